"""Benchmark the batched attacks of :mod:`aslib.attacks` against straightforward per-sample
references and against their floors, per iteration (AS), per pass (UAP) and per epoch (SGD-UAP).

(a) AS attack (Algorithm 4.1): ``aslib.attacks.as_attack`` (float32, and with the reduced
    ``precision`` of its line-search forwards) against a reference that builds the gradient
    matrix one sample at a time, takes numpy's SVD and evaluates the two signed candidates of
    every line-search trial in separate passes over the data (the structure of the authors'
    code, with an exact SVD so that both compute the same thing). Floor per iteration: one
    batched forward+backward of the still-correct samples plus two forwards of the crafting set.
    The reduced precision's prediction agreement with float32 is measured on clean and attacked
    test images.
(b) UAP (authors' variant): ``aslib.attacks.uap(variant="authors")`` against a reference looping
    over samples, DeepFool iterations and candidate classes (one backward per class and sample).
    Floor per pass: one batched DeepFool of all crafting samples plus one forward. The check
    follows the reference's trajectory and compares the batched DeepFool step with the
    reference's at every sample (same input, same step). The final vectors of ``minibatch=1`` and
    of the reference are *not* compared: the sequential fold is discontinuous (a DeepFool step
    changes class when its input crosses a boundary), so float rounding of 1e-6 grows to
    different vectors of comparable attack ratio within a few dozen samples.
(c) SGD-UAP: ``aslib.attacks.sgd_uap`` against a reference with per-sample gradients (same
    mini-batches, same steps: the vectors must agree). Floor per epoch: one batched
    forward+backward of the crafting set plus one forward.

The model is the shipped ``vgg19_bn_w025_cifar10`` when the zoo lists it, else a Fashion-MNIST
LeNet (shipped, or trained for one quick epoch on 6,000 images). Usage::

    python benchmarks/bench_attacks.py --n 100 --xi 8 --device cpu
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aslib import attacks, data
from aslib.attacks.common import predict, project
from aslib.attacks.deepfool_batched import run_deepfool
from aslib.fitting import training
from aslib.nets.gradients import input_gradients
from aslib.store import zoo


def pick_model() -> tuple[str, nn.Module, str]:
    """(name, eval-mode model, dataset name)."""
    shipped = {entry["name"] for entry in zoo.entries()}
    if "vgg19_bn_w025_cifar10" in shipped:
        return "vgg19_bn_w025_cifar10", zoo.pretrained("vgg19_bn_w025_cifar10"), "cifar10"
    if "lenet_fashion_mnist" in shipped:
        return "lenet_fashion_mnist", zoo.pretrained("lenet_fashion_mnist"), "fashion_mnist"
    return "lenet (quick 1-epoch)", training.quick_lenet(), "fashion_mnist"


# ---------------------------------------------------------------------------------------------
# reference AS attack

def ref_ratio(model: nn.Module, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, batch: int = 100) -> float:
    """Attack ratio of one vector, in loader-sized batches (one pass per candidate)."""
    with torch.no_grad():
        wrong = sum((model(x[i:i + batch] + v).argmax(1) != y[i:i + batch]).sum().item()
                    for i in range(0, len(x), batch))
    return wrong / len(x)


def ref_gradient_matrix(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Rows = per-sample cross-entropy input gradients, one forward/backward per sample."""
    rows = []
    for i in range(len(x)):
        point = x[i:i + 1].clone().requires_grad_(True)
        loss = F.cross_entropy(model(point), y[i:i + 1])
        rows.append(torch.autograd.grad(loss, point)[0].flatten().cpu().numpy())
    return np.stack(rows).astype(np.float64)


def ref_as_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, max_iter: int,
                  patience: int = 10, backtracks: int = 10) -> tuple[torch.Tensor, list[float]]:
    """Algorithm 4.1 written plainly (l2, step_max = xi**2); returns (xi * v_best/||v_best||, history)."""
    def project(v):
        return v * min(1.0, xi / v.norm().item()) if v.norm() > 0 else v

    v = torch.zeros_like(x[0])
    correct = torch.ones(len(x), dtype=torch.bool, device=x.device)
    previous, best, v_best, stall, history = -1.0, -1.0, v, 0, []
    for _ in range(max_iter):
        grads = ref_gradient_matrix(model, x[correct] + v, y[correct])
        d = np.linalg.svd(grads, full_matrices=False)[2][0]
        d = d if grads.sum(0) @ d >= 0 else -d
        d = torch.from_numpy(d).to(x.device, x.dtype).view_as(v)
        step = xi ** 2
        for _ in range(backtracks):
            plus, minus = project(v + step * d), project(v - step * d)
            r_plus, r_minus = ref_ratio(model, x, y, plus), ref_ratio(model, x, y, minus)
            candidate, ratio = (plus, r_plus) if r_plus > r_minus else (minus, r_minus)
            if ratio > previous:
                break
            step /= 2
        v, previous = candidate, ratio
        with torch.no_grad():
            correct = model(x + v).argmax(1) == y
        history.append(ratio)
        if ratio > best:
            best, v_best, stall = ratio, v, 0
        else:
            stall += 1
        if stall >= patience or not correct.any():
            break
    return v_best * xi / v_best.norm(), history


# ---------------------------------------------------------------------------------------------
# reference UAP (authors' variant)

def ref_deepfool(model: nn.Module, image: torch.Tensor, num_classes: int = 10, overshoot: float = 0.02,
                 max_iter: int = 10) -> tuple[torch.Tensor, int]:
    """Classic single-image DeepFool: one backward per candidate class; returns (perturbation, iterations)."""
    with torch.no_grad():
        order = model(image)[0].argsort(descending=True)[:num_classes]
    label, total, loops = order[0], torch.zeros_like(image), 0
    point = image.clone().requires_grad_(True)
    logits = model(point)
    while logits.argmax(1)[0] == label and loops < max_iter:
        base = torch.autograd.grad(logits[0, label], point, retain_graph=True)[0]
        best, w_best = float("inf"), None
        for k in order[1:]:
            w = torch.autograd.grad(logits[0, k], point, retain_graph=True)[0] - base
            dist = (logits[0, k] - logits[0, label]).abs().item() / w.norm().item()
            if dist < best:
                best, w_best = dist, w
        total = total + (best + attacks.DEEPFOOL_MARGIN) * w_best / w_best.norm()
        point = (image + (1 + overshoot) * total).requires_grad_(True)
        logits = model(point)
        loops += 1
    return (1 + overshoot) * total, loops


def ref_uap_authors(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, max_passes: int,
                    df_max_iter: int = 10) -> torch.Tensor:
    """The authors' UAP loop: every sample, fixed order, steps kept when DeepFool took < df_max_iter - 1 iterations."""
    v = torch.zeros_like(x[0])
    for _ in range(max_passes):
        for i in range(len(x)):
            step, loops = ref_deepfool(model, x[i:i + 1] + v, max_iter=df_max_iter)
            if loops < df_max_iter - 1:
                v = v + step[0]
                v = v * min(1.0, xi / v.norm().item())
        if ref_ratio(model, x, y, v) >= 0.8:
            break
    return v * xi / v.norm()


# ---------------------------------------------------------------------------------------------
# reference SGD-UAP

def ref_sgd_uap(model: nn.Module, x: torch.Tensor, y: torch.Tensor, xi: float, epochs: int, minibatch: int = 32,
                seed: int = 0, clamp: float = 10.0) -> torch.Tensor:
    """SGD-UAP with the mini-batch gradient summed from per-sample backwards (same batches as ours)."""
    generator, v = torch.Generator().manual_seed(seed), torch.zeros_like(x[0])
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(minibatch):
            grad = torch.zeros_like(v)
            for i in batch.tolist():
                delta = v.clone().requires_grad_(True)
                loss = F.cross_entropy(model(x[i:i + 1] + delta), y[i:i + 1]).clamp(max=clamp)
                grad += torch.autograd.grad(loss, delta)[0] / len(batch)
            v = project(v + xi / 4 * grad / grad.norm(), xi)
    return v * xi / v.norm()


# ---------------------------------------------------------------------------------------------
# floors and checks

def timed(fn: Callable, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def best_time(fn: Callable, *args, repeats: int = 3, **kwargs) -> float:
    fn(*args, **kwargs)
    return min(timed(fn, *args, **kwargs)[1] for _ in range(repeats))


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.flatten() @ b.flatten() / (a.norm() * b.norm())).item()


def as_floor(model: nn.Module, x: torch.Tensor, y: torch.Tensor, history: list[float]) -> float:
    """Seconds per AS iteration that no implementation can beat: a batched forward+backward of the
    still-correct samples (mean count over the run) plus two batched forwards of the crafting set."""
    t_grad = best_time(input_gradients, model, x, y)
    t_fwd = best_time(predict, model, x)
    correct = [len(x)] + [len(x) * (1 - h) for h in history[:-1]]
    return t_grad * float(np.mean(correct)) / len(x) + 2 * t_fwd


class ForwardCounter:
    """Counts the images a model forwards, with and without autograd (a forward hook; removed on exit)."""

    def __init__(self, model: nn.Module):
        self.model, self.graded, self.plain = model, 0, 0

    def __enter__(self) -> "ForwardCounter":
        def hook(module, inputs, output):
            if torch.is_grad_enabled():
                self.graded += len(inputs[0])
            else:
                self.plain += len(inputs[0])

        self.handle = self.model.register_forward_hook(hook)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


def as_work_floor(model: nn.Module, x: torch.Tensor, y: torch.Tensor, counter: ForwardCounter,
                  iterations: int) -> float:
    """Seconds per AS iteration for the work the run actually did: its gradient images at batched
    forward+backward speed plus its evaluation images (every line-search trial) at batched forward speed."""
    t_grad = best_time(input_gradients, model, x, y) / len(x)
    t_fwd = best_time(predict, model, x) / len(x)
    return (counter.graded * t_grad + counter.plain * t_fwd) / iterations


def uap_floor(model: nn.Module, x: torch.Tensor, df_max_iter: int = 10) -> float:
    """Seconds per UAP pass: one batched DeepFool of every crafting sample plus one forward."""
    return best_time(run_deepfool, model, x, 10, 0.02, df_max_iter, "l2", repeats=1) + best_time(predict, model, x)


def sgd_floor(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Seconds per SGD-UAP epoch: one batched forward+backward of the crafting set plus one forward."""
    return best_time(input_gradients, model, x, y) + best_time(predict, model, x)


def deepfool_lockstep(model: nn.Module, x: torch.Tensor, xi: float, df_max_iter: int = 10) -> tuple[float, int]:
    """Along the reference UAP trajectory, (min cosine, iteration-count mismatches) of the batched
    DeepFool step against the reference's at the same input, over every crafting sample."""
    v, worst, mismatches = torch.zeros_like(x[0]), 1.0, 0
    for i in range(len(x)):
        step, loops = ref_deepfool(model, x[i:i + 1] + v, max_iter=df_max_iter)
        ours, iterations, _ = run_deepfool(model, x[i:i + 1] + v, 10, 0.02, df_max_iter, "l2")
        mismatches += int(iterations.item() != loops)
        if step.norm() > 0:
            worst = min(worst, cosine(step, ours))
        if loops < df_max_iter - 1:
            v = project(v + step[0], xi)
    return worst, mismatches


def agreement(model: nn.Module, x: torch.Tensor, vector: torch.Tensor, precision: str) -> float:
    """Fraction of clean and attacked images whose reduced-precision label equals the float32 label."""
    same = [(predict(model, x, v, precision=precision) == predict(model, x, v)).float().mean().item()
            for v in (None, vector)]
    return min(same)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="crafting samples (default 100)")
    parser.add_argument("--xi", type=float, default=8.0, help="l2 noise level in normalised units (default 8)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--as-iters", type=int, default=10, help="AS iterations (default 10)")
    parser.add_argument("--uap-passes", type=int, default=1, help="UAP passes (default 1)")
    parser.add_argument("--sgd-epochs", type=int, default=2, help="SGD-UAP epochs (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed attack-ratio gap (default 0.05)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precision = "bfloat16" if device.type == "cpu" else "float16"
    name, model, dataset = pick_model()
    model = model.to(device).eval()
    x, y = (t.to(device) for t in data.tensors(dataset, "train", n=args.n, seed=1))
    x_test, y_test = (t.to(device) for t in data.tensors(dataset, "test", n=1000, seed=0))
    print(f"model {name} on {dataset}, device {device}, threads {torch.get_num_threads()}, "
          f"N = {args.n}, xi = {args.xi}")
    checks = []

    def ratio(v: torch.Tensor) -> float:
        return attacks.attack_ratio(model, x_test, y_test, v)

    budget = {"max_iter": args.as_iters, "patience": args.as_iters}
    with ForwardCounter(model) as counter:
        ours, t_ours = timed(attacks.as_attack, model, x, y, args.xi, **budget)
    fast, t_fast = timed(attacks.as_attack, model, x, y, args.xi, precision=precision, **budget)
    (ref_v, ref_hist), t_ref = timed(ref_as_attack, model, x, y, args.xi, args.as_iters, patience=args.as_iters)
    floor = as_floor(model, x, y, ours.history)
    work = as_work_floor(model, x, y, counter, ours.iterations)
    trials = (counter.plain - 1) / (2 * len(x) * ours.iterations)  # less the 1-image probe; two signs per trial
    per = {"ours": t_ours / ours.iterations, precision: t_fast / fast.iterations, "reference": t_ref / len(ref_hist)}
    print(f"\n(a) AS attack, {ours.iterations} iterations, {trials:.1f} line-search trials per iteration; seconds "
          f"per iteration (floor {floor:.3f} s with one trial, {work:.3f} s for the trials taken)")
    for label, (v, hist) in {"ours": (ours.vector, ours.history), precision: (fast.vector, fast.history),
                             "reference": (ref_v, ref_hist)}.items():
        print(f"  {label:10s} {per[label]:7.3f} s/it  {per[label] / floor:5.2f}x floor  {per[label] / work:5.2f}x "
              f"work floor  test attack ratio "
              f"{ratio(v):.3f}  history {[round(h, 3) for h in hist]}")
    agree = agreement(model, x_test, fast.vector, precision)
    print(f"  speed-up over the reference: {per['reference'] / per['ours']:.1f}x (float32), "
          f"{per['reference'] / per[precision]:.1f}x ({precision}); {precision} label agreement with float32 "
          f"{agree:.4f}; cosine(ours, reference) {cosine(ours.vector, ref_v):.6f}")
    checks.append(("AS ratio agrees with the reference", abs(ratio(ours.vector) - ratio(ref_v)) <= args.tolerance))
    checks.append((f"AS {precision} ratio agrees with float32",
                   abs(ratio(fast.vector) - ratio(ours.vector)) <= args.tolerance))
    checks.append((f"{precision} label agreement >= 0.995", agree >= 0.995))

    kwargs = {"variant": "authors", "max_passes": args.uap_passes, "target_fooling": 0.8}
    sequential, t_seq = timed(attacks.uap, model, x, y, args.xi, minibatch=1, **kwargs)
    batched, t_batched = timed(attacks.uap, model, x, y, args.xi, **kwargs)
    ref_u, t_ref_u = timed(ref_uap_authors, model, x, y, args.xi, args.uap_passes)
    floor_u = uap_floor(model, x)
    passes = {"minibatch=1": (t_seq / sequential.iterations, sequential.vector),
              "minibatch=32": (t_batched / batched.iterations, batched.vector),
              "reference": (t_ref_u / args.uap_passes, ref_u)}
    print(f"\n(b) UAP (authors' variant), {args.uap_passes} pass(es); seconds per pass (floor {floor_u:.2f} s)")
    for label, (seconds, v) in passes.items():
        print(f"  {label:12s} {seconds:7.2f} s/pass  {seconds / floor_u:5.2f}x floor  test attack ratio {ratio(v):.3f}")
    worst, mismatches = deepfool_lockstep(model, x, args.xi)
    print(f"  speed-up over the reference: {passes['reference'][0] / passes['minibatch=1'][0]:.1f}x (same "
          f"algorithm), {passes['reference'][0] / passes['minibatch=32'][0]:.1f}x (mini-batches); along the "
          f"reference trajectory the batched DeepFool step has min cosine {worst:.6f} and {mismatches} "
          f"iteration-count mismatches; cosine(minibatch=1, reference) {cosine(sequential.vector, ref_u):.3f}")
    checks.append(("DeepFool steps equal the reference's along its trajectory", worst > 0.9999 and mismatches == 0))
    checks.append(("UAP mini-batch ratio agrees", abs(ratio(batched.vector) - ratio(ref_u)) <= args.tolerance))

    sgd, t_sgd = timed(attacks.sgd_uap, model, x, y, args.xi, epochs=args.sgd_epochs)
    ref_s, t_ref_s = timed(ref_sgd_uap, model, x, y, args.xi, args.sgd_epochs)
    floor_s = sgd_floor(model, x, y)
    print(f"\n(c) SGD-UAP, {args.sgd_epochs} epochs; seconds per epoch (floor {floor_s:.3f} s)")
    for label, (seconds, v) in {"ours": (t_sgd / args.sgd_epochs, sgd.vector),
                                "reference": (t_ref_s / args.sgd_epochs, ref_s)}.items():
        print(f"  {label:10s} {seconds:7.3f} s/epoch  {seconds / floor_s:5.2f}x floor  "
              f"test attack ratio {ratio(v):.3f}")
    print(f"  speed-up over the reference: {t_ref_s / t_sgd:.1f}x; "
          f"cosine(ours, reference) {cosine(sgd.vector, ref_s):.6f}")
    checks.append(("SGD-UAP equals the reference", cosine(sgd.vector, ref_s) > 0.999))

    print()
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISMATCH'}] {label}")


if __name__ == "__main__":
    main()
