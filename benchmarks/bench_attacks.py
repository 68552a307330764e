"""Benchmark the batched attacks of :mod:`aslib.attacks` against straightforward per-sample references.

(a) AS attack (Algorithm 4.1): ``aslib.attacks.as_attack`` against a reference that builds the
    gradient matrix one sample at a time, takes numpy's SVD and evaluates the two signed
    candidates of every line-search trial in separate passes over the data (the structure of the
    authors' code, with an exact SVD so that both compute the same thing).
(b) UAP (authors' variant): ``aslib.attacks.uap(variant="authors")`` against a
    reference looping over samples, DeepFool iterations and candidate classes (one backward per
    class and sample). ``batch_size=1`` is the same algorithm and must give the same vector;
    the default mini-batches give a different but comparable vector.

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

from aslib import attacks, data, training, zoo


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

def timed(fn: Callable, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.flatten() @ b.flatten() / (a.norm() * b.norm())).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="crafting samples (default 100)")
    parser.add_argument("--xi", type=float, default=8.0, help="l2 noise level in normalised units (default 8)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--as-iters", type=int, default=10, help="AS iterations (default 10)")
    parser.add_argument("--uap-passes", type=int, default=1, help="UAP passes (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed attack-ratio gap (default 0.05)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name, model, dataset = pick_model()
    model = model.to(device).eval()
    x, y = (t.to(device) for t in data.tensors(dataset, "train", n=args.n, seed=1))
    x_test, y_test = (t.to(device) for t in data.tensors(dataset, "test", n=1000, seed=0))
    print(f"model {name} on {dataset}, device {device}, threads {torch.get_num_threads()}, "
          f"N = {args.n}, xi = {args.xi}")
    checks = []

    ours, t_ours = timed(attacks.as_attack, model, x, y, args.xi, max_iter=args.as_iters, patience=args.as_iters)
    (ref_v, ref_hist), t_ref = timed(ref_as_attack, model, x, y, args.xi, args.as_iters, patience=args.as_iters)
    r_ours, r_ref = (attacks.attack_ratio(model, x_test, y_test, v) for v in (ours.vector, ref_v))
    print(f"\n(a) AS attack, {ours.iterations} iterations")
    print(f"  ours      {t_ours:8.2f} s  test attack ratio {r_ours:.3f}  history {[round(h, 3) for h in ours.history]}")
    print(f"  reference {t_ref:8.2f} s  test attack ratio {r_ref:.3f}  history {[round(h, 3) for h in ref_hist]}")
    print(f"  speed-up {t_ref / t_ours:.1f}x, cosine(ours, reference) {cosine(ours.vector, ref_v):.6f}")
    checks.append(("AS ratio agrees", abs(r_ours - r_ref) <= args.tolerance))

    kwargs = {"variant": "authors", "max_passes": args.uap_passes, "target_fooling": 0.8}
    exact, t_exact = timed(attacks.uap, model, x, y, args.xi, minibatch=1, **kwargs)
    batched, t_batched = timed(attacks.uap, model, x, y, args.xi, **kwargs)
    ref_u, t_ref_u = timed(ref_uap_authors, model, x, y, args.xi, args.uap_passes)
    ratios = [attacks.attack_ratio(model, x_test, y_test, v) for v in (exact.vector, batched.vector, ref_u)]
    print(f"\n(b) UAP (authors' variant), {args.uap_passes} pass(es)")
    print(f"  ours, batch_size=1   {t_exact:8.2f} s  test attack ratio {ratios[0]:.3f}  "
          f"cosine to reference {cosine(exact.vector, ref_u):.6f}")
    print(f"  ours, batch_size=32  {t_batched:8.2f} s  test attack ratio {ratios[1]:.3f}  "
          f"cosine to reference {cosine(batched.vector, ref_u):.6f}")
    print(f"  reference            {t_ref_u:8.2f} s  test attack ratio {ratios[2]:.3f}")
    print(f"  speed-up {t_ref_u / t_exact:.1f}x (same algorithm), {t_ref_u / t_batched:.1f}x (mini-batches)")
    checks.append(("UAP batch_size=1 equals reference", cosine(exact.vector, ref_u) > 0.999))
    checks.append(("UAP mini-batch ratio agrees", abs(ratios[1] - ratios[2]) <= args.tolerance))

    print()
    for label, ok in checks:
        print(f"  [{'ok' if ok else 'MISMATCH'}] {label}")


if __name__ == "__main__":
    main()
