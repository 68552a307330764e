"""Universal vectors shipped inside the package: crafting them (resumable), their manifest, loading them.

Crafting a faithful vector takes up to a minute on a laptop CPU (the AS attack on the CIFAR-10
VGG with its full iteration budget), so the kit crafts the paper's experiments once and ships
the vectors; notebooks evaluate them live on held-out data and craft a few live ones beside them.

Files (inside the package):

* ``aslib/checkpoints/vectors.json``: the manifest, ``{"commands": [...], "records": [...]}`` with
  one record per vector: id, zoo model, dataset, experiment, classes, method, xi, norm, repeat,
  crafting-set size and indices, data and attack seeds, the method's options, iterations, wall
  time, crafting-set attack ratio, torch version, threads, and the sha256 of the stored vector; records
  crafted since fingerprints exist also hold ``platform`` (:func:`aslib.store.reproduction.platform_fingerprint`)
  and ``crafting_data`` (:func:`aslib.store.reproduction.data_identity` of the crafting set);
* ``aslib/checkpoints/vectors_<model>.pt``: ``{record id: float16 vector (C, H, W)}``.

Each record is reproducible from itself: the crafting set is ``train[crafting_indices]`` (drawn by
:func:`aslib.data.subset_indices` with ``data_seed``), and the vector is
``aslib.attacks.craft(method, model, x, y, xi, norm=norm, seed=attack_seed, **options)``.

What "reproducible" means (:func:`reproduce`): the crafting indices are bitwise the same on every
machine; the vector is not. The searches (line search, patience, backtracking, DeepFool's steps) branch
on floating-point comparisons, so a rounding difference in the last place (another CPU kernel set,
BLAS, thread count or device) can send a search down another path to a different, equally good
vector. The vector's bits are therefore compared only where the record's platform fingerprint
(:func:`aslib.store.reproduction.platform_fingerprint`, kept by records crafted since it exists) and
crafting data match; its attack ratios on the crafting set and on held-out images are compared
everywhere, within the prediction interval of the shipped repeats.
"""
from __future__ import annotations

import hashlib
import json
import time
import typing
from pathlib import Path
from typing import Any, Literal, Sequence

import torch

from aslib import data as data_mod
from aslib._utils import atomic_save, atomic_write_json, check_choice, check_device, default_device, load_tensors
from aslib.attacks import METHODS, NORMS, attack_ratio, attack_seed, craft
from aslib.attacks.common import Images, Labels, Norm
from aslib.contracts import ClassIndices, Count, CountOrZero, Fraction, PositiveReal, PositiveReals, contract
from aslib.store import zoo
from aslib.store.reproduction import Check, data_identity, platform_fingerprint, prediction_tolerance, same_platform

STORE = zoo.CHECKPOINT_DIR
"""Folder of the manifest ``vectors.json`` and the files ``vectors_<model>.pt`` (the package's zoo folder)."""

EXPERIMENTS = {"allclass": {"classes": None, "n_samples": 200}, "oneclass": {"classes": [1], "n_samples": 100},
               "transfer": {"classes": [1], "n_samples": 50}}
"""The paper's crafting sets: 200 images of all classes, 100 of class 1, 50 of class 1 (transfer study)."""
Experiment = Literal["allclass", "oneclass", "transfer"]
"""The name of one of the :data:`EXPERIMENTS`."""


@contract
def experiment_options(dataset: str, experiment: Experiment, method: str) -> dict[str, Any]:
    """The per-experiment settings of a method (the paper's): the AS attack's first step ``step_max``
    is 3 for the CIFAR-10 one-class and transfer experiments and ``xi**2`` otherwise; every other
    setting is the method's own default (full iteration, patience and line-search budgets)."""
    if method == "as" and dataset.startswith("cifar") and experiment in ("oneclass", "transfer"):
        return {"step_max": 3.0}
    return {}


Solver = Literal["exact", "authors"]
SHIPPED_SOLVERS = typing.get_args(Solver)
"""Dominant-direction solvers the AS vectors are shipped with (the ``solver`` of :func:`records`,
:func:`shipped_vectors`, :func:`craft_vectors`): ``"exact"`` (the default, record field ``variant`` absent) and
``"authors"`` (the authors' one-step randomized direction, record
field ``variant = "authors"``; see :func:`aslib.attacks.dominant_direction`)."""


@contract
def record_id(model: str, experiment: Experiment, method: str, xi: PositiveReal, repeat: CountOrZero,
              norm: Norm = "l2", solver: Solver = "exact") -> str:
    """The id of a shipped vector's record: ``model/experiment/method[-solver]/norm/xi<xi>/r<repeat>`` (no suffix for
    the exact solver)."""
    name = method if solver == "exact" else f"{method}-{solver}"
    return f"{model}/{experiment}/{name}/{norm}/xi{xi:g}/r{repeat}"


def _vector_file(model: str) -> Path:
    return STORE / f"vectors_{model}.pt"


def _read_manifest() -> dict[str, Any]:
    path = STORE / "vectors.json"
    return json.loads(path.read_text()) if path.exists() else {"commands": [], "records": []}


def _write_manifest(manifest: dict[str, Any]) -> None:
    atomic_write_json(manifest, STORE / "vectors.json", indent=1)


def _digest(vector: torch.Tensor) -> str:
    return hashlib.sha256(vector.detach().cpu().to(torch.float16).contiguous().numpy().tobytes()).hexdigest()


@contract
def records(model: str | None = None, *, method: str | None = None, xi: PositiveReal | None = None,
            experiment: str | None = None, norm: Norm = "l2", solver: Solver = "exact") -> list[dict[str, Any]]:
    """Manifest records matching the given fields (any value when None), sorted by repeat; ``solver`` selects the
    AS vectors' dominant-direction solver (:data:`SHIPPED_SOLVERS`; the record's ``variant`` field)."""
    everything = _read_manifest()["records"]
    for what, value, known in (("model with shipped vectors", model, {r["model"] for r in everything}),
                               ("attack method", method, METHODS), ("experiment", experiment, EXPERIMENTS),
                               ("norm", norm, NORMS)):
        if value is not None:
            check_choice(what, value, known)
    rows = [r for r in everything
            if (model is None or r["model"] == model) and (method is None or r["method"] == method)
            and (xi is None or r["xi"] == float(xi)) and (experiment is None or r["experiment"] == experiment)
            and r["norm"] == norm and r.get("variant", "exact") == solver]
    return sorted(rows, key=lambda r: (r["model"], r["experiment"], r["method"], r["xi"], r["repeat"]))


def crafting_cost() -> dict[str, Any]:
    """What the shipped vectors cost to craft, from their records (every solver variant included):
    ``{"vectors": count, "hours": summed wall time (h), "machines": sorted "device, N threads" strings}``."""
    chosen = _read_manifest()["records"]
    return {"vectors": len(chosen), "hours": sum(r["wall_time_s"] for r in chosen) / 3600,
            "machines": sorted({f"{r['device']}, {r['threads']} threads" for r in chosen})}


@contract
def shipped_vectors(model: str, method: str, xi: PositiveReal, classes: ClassIndices | None = None, *,
                    experiment: str | None = None, norm: Norm = "l2", solver: Solver = "exact") -> list[torch.Tensor]:
    """The shipped vectors ``(C, H, W)`` (float32, normalised units) of a zoo model, method and noise level,
    one per repeat in repeat order: all-class vectors when ``classes`` is None, else the one-class
    experiment of those classes (or name the ``experiment``: ``"allclass"``, ``"oneclass"``, ``"transfer"``);
    ``solver="authors"``: AS vectors of the authors' solver (see :data:`SHIPPED_SOLVERS`)."""
    if experiment is None:
        experiment = "allclass" if classes is None else "oneclass"
    chosen = [r for r in records(model, method=method, xi=xi, experiment=experiment, norm=norm, solver=solver)
              if classes is None or r["classes"] == list(classes)]
    if not chosen:
        available = sorted({(r["method"], r["xi"], r["experiment"]) for r in records(model, norm=norm)})
        label = method if solver == "exact" else f"{method} ({solver} solver)"
        raise ValueError(f"no shipped {label!r} vectors for {model!r} at xi={xi:g} ({experiment}); shipped: "
                         f"{available or 'none'}. Craft them with `python -m aslib.cli attack-study --model {model} "
                         f"--xis {xi:g} --ship`.")
    stored = load_tensors(_vector_file(model), "shipped vector file")
    return [stored[r["id"]].float() for r in chosen]


RECORD_FIELDS = ("id", "model", "dataset", "method", "xi", "norm", "experiment", "crafting_indices", "options",
                 "attack_seed", "train_attack_ratio")
"""The fields of a shipped vector's record that re-crafting and reproducing it read."""


def _check_record(record: Any) -> None:
    if not isinstance(record, dict):
        raise ValueError(f"record must be a dict from aslib.store.vectors.records(...), got {type(record).__name__}")
    missing = [name for name in RECORD_FIELDS if name not in record]
    if missing:
        raise ValueError(f"the record lacks the field(s) {missing}; pass a whole record from "
                         "aslib.store.vectors.records(...)")


@contract
def crafting_set(record: dict[str, Any], root: str | Path | None = None, *, device: torch.device | str | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The crafting images ``(n, C, H, W)`` and labels ``(n,)`` of a record (normalised), on ``device`` (the CPU
    when None)."""
    _check_record(record)
    target = None if device is None else check_device(device)
    train = data_mod.load(record["dataset"], "train", root)
    x, y = train.batch(torch.tensor(record["crafting_indices"]))
    return (x, y) if target is None else (x.to(target), y.to(target))


@contract
def recraft(record: dict[str, Any], device: torch.device | str = "cpu", root: str | Path | None = None) -> torch.Tensor:
    """Craft the vector of ``record`` again from its own fields; returns it in float32 ``(C, H, W)``
    (see :func:`reproduce` for what it can be expected to match)."""
    _check_record(record)
    model = zoo.pretrained(record["model"], map_location=device)
    x, y = crafting_set(record, root, device=device)
    return craft(record["method"], model, x, y, record["xi"], norm=record["norm"],
                 seed=record["attack_seed"], **record["options"]).vector.float().cpu()


def _crafting_identity(train: data_mod.ImageDataset, index: torch.Tensor) -> str:
    return data_identity(train.images[index], train.targets[index])


@contract
def reproduce(record: dict[str, Any], test: tuple[Images, Labels], *, level: Fraction = 0.99,
              device: torch.device | str = "cpu", root: str | Path | None = None) -> list[Check]:
    """Re-craft the vector of ``record`` and compare it with the shipped one; returns the checks.

    * crafting-set attack ratio of the re-crafted vector against the record's, and test attack ratio
      on ``test`` (normalised images ``(N, C, H, W)`` and labels ``(N,)``) against the shipped vector's:
      each within the ``level`` prediction half-width (:func:`aslib.store.reproduction.prediction_tolerance`)
      of the shipped repeats of the same model, experiment, method, noise level and solver (their
      crafting-set ratios from the records, their test ratios measured here on ``test``);
    * the vector itself, element by element as stored (float16), exactly, only when the record's
      platform fingerprint and crafting data match this machine's (the only case in which the
      search is bitwise deterministic).
    """
    _check_record(record)
    vector = recraft(record, device, root).to(device=device, dtype=torch.float16)
    model = zoo.pretrained(record["model"], map_location=device)
    train = data_mod.load(record["dataset"], "train", root)
    index = torch.tensor(record["crafting_indices"])
    x, y = crafting_set(record, root, device=device)
    xt, yt = (t.to(device) for t in test)
    peers = records(record["model"], method=record["method"], xi=record["xi"], experiment=record["experiment"],
                    norm=record["norm"], solver=record.get("variant", "exact"))
    stored_all = load_tensors(_vector_file(record["model"]), "shipped vector file")
    test_ratios = {r["id"]: attack_ratio(model, xt, yt, stored_all[r["id"]].float().to(device)) for r in peers}
    basis = f"{100 * level:g} % prediction interval of {len(peers)} shipped repeats"
    checks = [Check("crafting-set attack ratio", attack_ratio(model, x, y, vector.float()),
                    record["train_attack_ratio"], prediction_tolerance([r["train_attack_ratio"] for r in peers], level),
                    basis),
              Check(f"test attack ratio ({len(yt)} images)", attack_ratio(model, xt, yt, vector.float()),
                    test_ratios[record["id"]], prediction_tolerance(list(test_ratios.values()), level), basis)]
    same_data = record.get("crafting_data") == _crafting_identity(train, index)
    if same_platform(record.get("platform"), device) and same_data:
        stored = stored_all[record["id"]]
        checks.append(Check("largest element difference of the vector (float16 as stored)",
                            float((vector.cpu().float() - stored.float()).abs().max()), 0.0, 0.0,
                            "same platform fingerprint and crafting data: the search is bitwise deterministic"))
    return checks


@contract
def craft_vectors(model: str, *, xis: PositiveReals, repeats: Count, experiment: Experiment = "allclass",
                  methods: Sequence[str] = METHODS, norm: Norm = "l2", seed: int = 0, solver: Solver = "exact",
                  command: str = "", device: torch.device | str | None = None, progress: bool = True,
                  root: str | Path | None = None) -> list[dict[str, Any]]:
    """Craft and ship the vectors of one experiment for a zoo model; resumable (a vector whose record
    exists is skipped, and every new vector is written at once). Returns the records of this call's grid.

    Repeat ``r`` draws its crafting set with ``data_seed = seed + r`` (the same set for every method
    and noise level, so that methods can be compared pairwise); the attack seed is
    :func:`aslib.attacks.attack_seed`. Options are :func:`experiment_options` (the paper's per-experiment settings);
    ``solver`` (one of :data:`SHIPPED_SOLVERS`) is the AS attack's dominant-direction solver, and a
    non-default solver is shipped as a variant of the AS records (only ``methods=("as",)`` allowed). The crafting
    sets are drawn from the training split under ``root`` (:func:`aslib.data.load`; default: the data root).
    """
    if solver != "exact" and tuple(methods) != ("as",):
        raise ValueError(f"solver={solver!r} is an option of the AS attack only: pass methods=('as',)")
    entry, spec = zoo.entry(model), EXPERIMENTS[experiment]
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; use some of {METHODS}")
    device = torch.device(device) if device is not None else default_device()
    net = zoo.pretrained(model, map_location=device)
    train = data_mod.load(entry["dataset"], "train", root)
    manifest = _read_manifest()
    if command and command not in manifest["commands"]:
        manifest["commands"].append(command)
    done = {r["id"]: r for r in manifest["records"]}
    path = _vector_file(model)
    stored = load_tensors(path, "shipped vector file") if path.exists() else {}
    out = []
    for repeat in range(repeats):
        index = data_mod.subset_indices(train.targets, spec["n_samples"], spec["classes"], seed + repeat)
        x, y = (t.to(device) for t in train.batch(index))
        for xi in xis:
            for method in methods:
                rid = record_id(model, experiment, method, xi, repeat, norm, solver)
                if rid in done and rid in stored:
                    out.append(done[rid])
                    continue
                options = experiment_options(entry["dataset"], experiment, method)
                if solver != "exact":
                    options["solver"] = solver
                result = craft(method, net, x, y, float(xi), norm=norm, seed=attack_seed(seed, repeat, xi), **options)
                vector = result.vector.detach().cpu().to(torch.float16)
                record = {"id": rid, "model": model, "dataset": entry["dataset"], "experiment": experiment,
                          "classes": spec["classes"], "method": method, "xi": float(xi), "norm": norm,
                          "repeat": repeat, "n_samples": spec["n_samples"], "data_seed": seed + repeat,
                          "attack_seed": attack_seed(seed, repeat, xi), "options": options,
                          "crafting_indices": index.tolist(), "iterations": result.iterations,
                          "history": [round(h, 6) for h in result.history],
                          "wall_time_s": round(result.wall_time_s, 3),
                          "train_attack_ratio": attack_ratio(net, x, y, vector.float().to(device)),
                          "torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
                          "platform": platform_fingerprint(device), "crafting_data": _crafting_identity(train, index),
                          "sha256": _digest(vector), "crafted": time.strftime("%Y-%m-%d %H:%M:%S")}
                if solver != "exact":
                    record["variant"] = solver
                stored[rid] = vector
                atomic_save(stored, path)
                done[rid] = record
                manifest["records"] = list(done.values())
                _write_manifest(manifest)
                out.append(record)
                if progress:
                    print(f"[vectors] {rid}: crafting-set attack ratio {record['train_attack_ratio']:.3f} "
                          f"in {record['wall_time_s']:.1f} s", flush=True)
    return out
