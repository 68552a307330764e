"""The exercise checks: the notebooks' own solutions pass, typical mistakes get the right explanation, the
student versions' stubs report "not implemented yet" (and fail in grading mode), the student version holds no
solution prose, and every notebook has a checked exercise."""
import json
import math
import re
from pathlib import Path

import pytest
import torch

import aslib
from aslib.linalg import pce
from aslib.teach import exercises
from aslib.teach.exercises import ExerciseError
from aslib.tools import handouts
from aslib.tools.handouts import student_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def exercise_cells(path: Path) -> list[tuple[str, str]]:
    """``(solution source, check name)`` for every cell tagged ``solution`` and the check cell after it."""
    cells = json.loads(path.read_text())["cells"]
    found = []
    for i, cell in enumerate(cells):
        if handouts.SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            following = "".join(cells[i + 1]["source"])
            found.append(("".join(cell["source"]), re.search(r"exercises\.(check_\w+)\(", following).group(1)))
    return found


def function_of(source: str):
    namespace = {"torch": torch, "math": math, "aslib": aslib, "pce": pce}
    exec(source, namespace)
    return next(v for k, v in namespace.items() if k.startswith("my_"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_an_exercise_whose_solution_passes_its_check(path, capsys):
    found = exercise_cells(path)
    assert found, f"{path.name} has no cell tagged 'solution' followed by an aslib.teach.exercises check"
    cells = json.loads(path.read_text())["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    levels = [len(stars) for stars in re.findall(r"^## Implement it yourself \((★+)\)", source, re.M)]
    assert len(levels) == len(found) >= 2 and levels == sorted(levels) and len(set(levels)) >= 2, \
        f"{path.name}: the exercises should climb a ladder (at least two, easiest first), got {levels}"
    for source, check in found:
        assert getattr(exercises, check)(function_of(source)) is True
        assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_student_version_withholds_every_solution_and_grading_fails_a_stub(path, tmp_path, capsys,
                                                                              monkeypatch):
    target = tmp_path / path.name
    assert student_notebook(path, target) == len(exercise_cells(path))
    stubbed = [c for c in json.loads(target.read_text())["cells"]
               if handouts.SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]
    for cell, (solution, check) in zip(stubbed, exercise_cells(path)):
        source = "".join(cell["source"])
        assert source.count("raise NotImplementedError") == 1 and '"""' in source and len(source) < len(solution)
        assert getattr(exercises, check)(function_of(source)) is None
        assert "not implemented yet" in capsys.readouterr().out
        monkeypatch.setenv(exercises.GRADING_VARIABLE, "1")  # an autograder must not pass a stub
        with pytest.raises(ExerciseError, match="not implemented"):
            getattr(exercises, check)(function_of(source))
        monkeypatch.delenv(exercises.GRADING_VARIABLE)
    original, student = (json.loads(p.read_text())["cells"] for p in (path, target))
    prose = sum(len(handouts.PROSE_SOLUTION.findall("".join(c["source"]))) for c in original)
    assert prose >= 1, "every notebook has at least one prose solution to withhold"
    assert not any("<details>" in "".join(c["source"]) for c in student)
    assert sum("".join(c["source"]).count(handouts.PROSE_PLACEHOLDER) for c in student) == prose
    unchanged = [(a, b) for a, b in zip(original, student, strict=True)
                 if handouts.SOLUTION_TAG not in a.get("metadata", {}).get("tags", [])
                 and not handouts.PROSE_SOLUTION.search("".join(a["source"]))]
    assert all(a == b for a, b in unchanged)


def _eig_unscaled(G):
    values, vectors = torch.linalg.eigh(G.T @ G)
    return values.flip(0), vectors.flip(1)


def _eig_increasing(G):
    return torch.linalg.eigh(G.T @ G / G.shape[0])


def _eig_rows(G):
    values, vectors = torch.linalg.eigh(G.T @ G / G.shape[0])
    return values.flip(0), vectors.flip(1).T


def _vgg_without_bn(config, in_channels, num_classes, batch_norm):
    total, channels = 0, in_channels
    for item in (c for c in config if c != "M"):
        total, channels = total + 9 * channels * item + item, item
    return total + channels * num_classes + num_classes


def _fd_oversharp(G, ell):  # shrinks by the largest squared singular value: loses too much
    B = torch.zeros(ell, G.shape[1], dtype=G.dtype)
    for i, g in enumerate(G):
        if i % ell == 0 and i:
            _, s, Vt = torch.linalg.svd(B, full_matrices=False)
            B = torch.sqrt((s**2 - s[len(s) // 2] ** 2).clamp_min(0))[:, None] * Vt
            B = torch.cat([B[: ell - 1], torch.zeros(1, G.shape[1], dtype=G.dtype)])
        B[min(i % ell, ell - 1)] = g
    return B


def _fd_grows(G, ell):  # keeps the largest rows unshrunk and adds: B^T B exceeds G^T G
    return 30 * G[:ell]


def _hermite_unnormalised(z, degree):
    He = [torch.ones_like(z), z]
    for k in range(1, degree):
        He.append(z * He[k] - k * He[k - 1])
    return torch.stack(He[: degree + 1], 1)


def _randomized(G, k, oversample, power_iters, generator, *, iterations=None, scale=True):
    m, n = G.shape
    Q = torch.linalg.qr(G @ torch.randn(n, k + oversample, generator=generator, dtype=G.dtype)).Q
    for _ in range(power_iters if iterations is None else iterations):
        Q = torch.linalg.qr(G @ torch.linalg.qr(G.T @ Q).Q).Q
    _, s, Vh = torch.linalg.svd(Q.T @ G, full_matrices=False)
    return s[:k] ** 2 / (m if scale else 1), Vh[:k].T


def _vgg_macs(config, in_channels, num_classes, *, pool=True, classifier=True, bias=False):
    macs, channels, side = 0, in_channels, 32
    for item in config:
        if item == "M":
            side //= 2 if pool else 1
            continue
        macs += (channels * 9 + bias) * item * side * side
        channels = item
    return macs + (channels * num_classes if classifier else 0)


def _count(eigenvalues, delta, *, power=1, strict=False, base=1):
    energy = eigenvalues.cumsum(0) / eigenvalues.sum()
    below = energy <= delta**power if strict else energy < delta**power - 1e-12
    return int(below.sum()) + base


def _share(v, G, k, *, smallest=False, normalise=True, squared=True):
    Vh = torch.linalg.svd(G, full_matrices=False).Vh
    Vk = Vh[-k:] if smallest else Vh[:k]
    norm = float((Vk @ v.flatten()).norm() / (v.norm() if normalise else 1))
    return norm**2 if squared else norm


def _kd_without_t2(s, t, y, alpha, temperature):
    kl = torch.nn.functional.kl_div(torch.log_softmax(s / temperature, 1), torch.log_softmax(t / temperature, 1),
                                    reduction="batchmean", log_target=True)
    return alpha * kl + (1 - alpha) * torch.nn.functional.cross_entropy(s, y)


def _deepfool_flipped(W, b, x):
    logits = W @ x + b
    label = int(logits.argmax())
    others = [k for k in range(len(b)) if k != label]
    w, f = W[others] - W[label], logits[others] - logits[label]
    k = int((f.abs() / w.norm(dim=1)).argmin())
    return -f[k].abs() / w[k].norm() ** 2 * w[k]


def _deepfool_farthest(W, b, x):
    logits = W @ x + b
    label = int(logits.argmax())
    others = [k for k in range(len(b)) if k != label]
    w, f = W[others] - W[label], logits[others] - logits[label]
    k = int((f.abs() / w.norm(dim=1)).argmax())
    return 1.01 * f[k].abs() / w[k].norm() ** 2 * w[k]


def _fooling_tensor(model, x, v):
    return (model(x).argmax(1) != model(x + v).argmax(1)).float().mean()


def _as_attack(model, x, y, xi, iterations, *, mean_gradient=False, recursive=True, rescale=True, sign=1.0):
    """Algorithm 4.1 as the notebook's solution writes it, with switches for the usual slips."""
    def ratio(v):
        with torch.no_grad():
            return (model(x + v).argmax(1) != y).double().mean().item()

    def ball(u):
        return u * min(1.0, xi / max(u.norm().item(), 1e-30))

    v, correct = torch.zeros_like(x[0]), torch.ones(len(x), dtype=torch.bool)
    previous, best, v_best = -1.0, -1.0, v
    for _ in range(iterations if recursive else 1):
        G = aslib.nets.gradients.input_gradients(model, x[correct] + v, y[correct]).flatten(1)
        d = G.sum(0) / G.sum(0).norm() if mean_gradient else torch.linalg.svd(G, full_matrices=False).Vh[0]
        d = (d if G.sum(0) @ d >= 0 else -d).view_as(v)
        step = xi ** 2
        for _ in range(10):
            plus, minus = ball(v + step * d), ball(v - step * d)
            (candidate, r) = (plus, ratio(plus)) if ratio(plus) > ratio(minus) else (minus, ratio(minus))
            if r > previous:
                break
            step /= 2
        v, previous = candidate, r
        with torch.no_grad():
            correct = model(x + v).argmax(1) == y
        if previous > best:
            best, v_best = previous, v
    return sign * (v_best * (xi / v_best.norm()) if rescale else v_best)


def _head(pre, post, x, V, degree, *, standardise=True, correction=0, target="logits", transpose=False):
    """Step 2 of Algorithm 3.1 as the notebook's solution writes it, with switches for the usual slips."""
    with torch.no_grad():
        activations, logits = pre(x).flatten(1), post(pre(x))
    z = activations @ V
    mean, std = (z.mean(0), z.std(0, correction=correction)) if standardise else (z.new_zeros(z.shape[1]),
                                                                               z.new_ones(z.shape[1]))
    features = pce.HermiteBasis(V.shape[1], degree)((z - mean) / std)
    targets = logits if target == "logits" else torch.nn.functional.one_hot(logits.argmax(1), logits.shape[1]).double()
    weights = torch.linalg.lstsq(features, targets).solution
    return mean, std, weights.T if transpose else weights


def test_the_algorithm_4_1_reference_passes_and_matches_the_kit(capsys):
    assert exercises.check_as_attack(_as_attack) is True
    assert exercises.check_asnet_head(_head) is True


MISTAKES = [
    ("check_active_subspace", _eig_unscaled, "times too large"),
    ("check_active_subspace", _eig_increasing, "increasing order"),
    ("check_active_subspace", _eig_rows, "columns"),
    ("check_active_subspace", lambda G: (torch.zeros(3), torch.eye(3)), "shape"),
    ("check_vgg_parameter_count", _vgg_without_bn, "batch norm adds 2 parameters"),
    ("check_vgg_parameter_count", lambda *a: 1.0, "return an int"),
    ("check_frequent_directions", _fd_oversharp, "exceeds the bound"),
    ("check_frequent_directions", _fd_grows, "exceeds G^T G"),
    ("check_hermite", _hermite_unnormalised, "without normalisation"),
    ("check_hermite", lambda z, p: torch.stack([(2 * z) ** k for k in range(p + 1)], 1), "probabilists"),
    ("check_distillation_loss", _kd_without_t2, "T^2"),
    ("check_deepfool_step", _deepfool_flipped, "points away"),
    ("check_deepfool_step", _deepfool_farthest, "nearest"),
    ("check_fooling_rate", _fooling_tensor, "Python float"),
    ("check_fooling_rate", lambda model, x, v: 0.5, "fooling rate"),
    ("check_as_attack", lambda *a: _as_attack(*a, mean_gradient=True), "mean gradient"),
    ("check_as_attack", lambda *a: _as_attack(*a, sign=-1.0), "minus the kit's"),
    ("check_as_attack", lambda *a: _as_attack(*a, rescale=False), "rescaled to norm xi"),
    ("check_as_attack", lambda *a: _as_attack(*a, recursive=False), "is the recursion there?"),
    ("check_asnet_head", lambda *a: _head(*a, standardise=False), "no standardisation"),
    ("check_asnet_head", lambda *a: _head(*a, correction=1), "sample std"),
    ("check_asnet_head", lambda *a: _head(*a, target="labels"), "one-hot labels"),
    ("check_asnet_head", lambda *a: _head(*a, transpose=True), "(K, N_b)"),
    ("check_randomized_subspace", lambda *a: _randomized(*a, iterations=0), "allowed: 1e-3"),
    ("check_randomized_subspace", lambda *a: _randomized(*a, scale=False), "times too large"),
    ("check_vgg_macs", lambda *a: _vgg_macs(*a, pool=False), "half as high"),
    ("check_vgg_macs", lambda *a: _vgg_macs(*a, classifier=False), "add the classifier"),
    ("check_vgg_macs", lambda *a: _vgg_macs(*a, bias=True), "biases, batch norm"),
    ("check_count_active", lambda *a: _count(*a, base=0), "count from 1"),
    ("check_count_active", lambda *a: _count(*a, power=2), "delta^2"),
    ("check_count_active", lambda *a: _count(*a, strict=True), ">=, not >"),
    ("check_soft_threshold", lambda w, t: w * (w.abs() > t), "hard thresholding"),
    ("check_soft_threshold", lambda w, t: (w.abs() - t).clamp_min(0), "lost the signs"),
    ("check_soft_threshold", lambda w, t: w - t * w.sign(), "cross zero"),
    ("check_energy_share", lambda *a: _share(*a, smallest=True), "smallest"),
    ("check_energy_share", lambda *a: _share(*a, normalise=False), "divide by ||v||^2"),
    ("check_energy_share", lambda *a: _share(*a, squared=False), "not a cosine"),
]

CHEATS = [  # each calls the kit's own answer to the exercise; the check must refuse it, whatever it returns
    ("check_active_subspace", lambda G: aslib.linalg.subspace.top_directions(G, 2), "top_directions"),
    ("check_vgg_parameter_count", lambda *a: aslib.nets.models.count_parameters(torch.nn.Linear(2, 2)),
     "count_parameters"),
    ("check_frequent_directions", lambda G, ell: aslib.linalg.frequent_directions.shrink(G, ell)[0], "shrink"),
    ("check_hermite", lambda z, p: pce.HermiteBasis(1, p).univariate(z[:, None])[:, 0], "HermiteBasis"),
    ("check_distillation_loss", lambda s, t, y, a, T: aslib.fitting.finetuning.distillation_loss(s, t, y, alpha=a,
                                                                                           temperature=T),
     "distillation_loss"),
    ("check_deepfool_step",
     lambda W, b, x: aslib.attacks.deepfool(torch.nn.Linear(20, 6).double(), x[None]).perturbation[0], "deepfool"),
    ("check_fooling_rate", lambda model, x, v: aslib.attacks.attack_ratio(model, x, model(x).argmax(1), v),
     "attack_ratio"),
    ("check_as_attack", lambda m, x, y, xi, it: aslib.attacks.craft("as", m, x, y, xi, max_iter=it).vector,
     "as_attack"),
    ("check_asnet_head", lambda pre, post, x, V, p: (None, None, pce.NormalEquations(2, 1).solve(1.0)),
     "NormalEquations"),
    ("check_randomized_subspace", lambda G, k, p, q, g: torch.svd_lowrank(G, k, q), "svd_lowrank"),
    ("check_vgg_macs", lambda c, i, k: aslib.nets.counts.complexity(torch.nn.Linear(2, 2), (2,))["macs"], "complexity"),
    ("check_count_active", lambda e, d: aslib.linalg.subspace.count_active(e, float(e.sum()), d), "count_active"),
    ("check_soft_threshold", lambda w, t: aslib.fitting.finetuning.soft_threshold_(w, t) or w, "soft_threshold_"),
    ("check_energy_share", lambda v, G, k: aslib.linalg.subspace.ActiveSubspace().fit(G).trace, "ActiveSubspace"),
]


@pytest.mark.parametrize("check, cheat, name", CHEATS, ids=[c for c, _, _ in CHEATS])
def test_a_check_refuses_the_kits_own_answer(check, cheat, name):
    with pytest.raises(ExerciseError, match=rf"calls [\w., ]*{name}\b.*the kit's own answer"):
        getattr(exercises, check)(cheat)


def test_the_call_hook_is_removed_after_a_check_and_a_previous_one_restored():
    seen = []

    def previous(frame, event, arg):
        seen.append(event)

    import sys
    sys.setprofile(previous)
    try:
        exercises.check_hermite(lambda z, p: torch.stack([z ** k for k in range(p + 1)], 1))
    except ExerciseError:
        pass
    finally:
        restored = sys.getprofile()
        sys.setprofile(None)
    assert restored is previous


@pytest.mark.parametrize("check, wrong, message", MISTAKES, ids=[f"{c}-{m}" for c, _, m in MISTAKES])
def test_a_wrong_solution_gets_an_explanation(check, wrong, message):
    with pytest.raises(ExerciseError, match=re.escape(message)):
        getattr(exercises, check)(wrong)


def _forgot_return(G):
    torch.linalg.eigh(G.T @ G / len(G))


def _no_arguments():
    return 1


def _one_tensor(G):
    return torch.linalg.eigvalsh(G.T @ G / len(G))


@pytest.mark.parametrize("wrong, message", [(_forgot_return, "returned None: end it with `return"),
                                            (_no_arguments, "calls _no_arguments with 1 argument(s)"),
                                            (_one_tensor, "does not have the expected form")])
def test_a_function_of_the_wrong_shape_gets_words_not_a_traceback(wrong, message):
    with pytest.raises(ExerciseError, match=re.escape(message)) as caught:
        exercises.check_active_subspace(wrong)
    assert "solution(G) for gradients G (m, n) returns (eigenvalues (n,), eigenvectors (n, n))" in str(caught.value)


def test_an_error_inside_the_learners_code_keeps_its_traceback():
    def broken(G):
        return G @ torch.ones(3, 3)  # a shape error in the learner's own line

    with pytest.raises(RuntimeError) as caught:
        exercises.check_active_subspace(broken)
    assert caught.traceback[-1].name == "broken"


def test_a_check_takes_the_function_itself():
    with pytest.raises(TypeError, match=r"check_hermite: solution must be Callable, got int 3"):
        exercises.check_hermite(3)


def test_a_solution_cell_without_a_function_is_an_error(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": ["x = 1\n"],
                           "outputs": [], "execution_count": None}], "metadata": {}, "nbformat": 4,
                "nbformat_minor": 5}
    (tmp_path / "a.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="defines no function"):
        student_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb")
