"""What each sub-command of the command line (:mod:`aslib.cli`) does: one function per command, taking the parsed
arguments (:data:`COMMANDS`). Imports of the heavy modules stay inside the functions so that ``aslib --help``
and the light commands start fast."""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import time
from pathlib import Path

import torch

from aslib import attacks
from aslib._utils import check_device, default_device
from aslib.fitting import recipes, runs, training
from aslib.store import vectors, zoo

FETCHED = ("mnist", "fashion_mnist", "cifar10")
"""The datasets ``aslib data --fetch`` downloads when given no names: those the notebooks use."""


def _model(args):
    """``(model, dataset name, device)`` from ``--model`` (a zoo name, a kit checkpoint path or
    ``torchvision:NAME``), ``--weights`` and ``--dataset`` (:func:`aslib.store.zoo.resolve`)."""
    from aslib.distributed import init_from_environment

    init_from_environment()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = check_device(args.device) if args.device else default_device()
    model, dataset = zoo.resolve(args.model, weights=args.weights, dataset=args.dataset, map_location=device)
    return model, dataset, device


def _layer_study(args) -> None:
    from aslib import data as data_mod
    from aslib.distributed import is_main_process
    from aslib.nets.models import cut_points
    from aslib.nets.layer_analysis import layer_subspaces
    from aslib.studies.tables import format_table

    model, dataset, device = _model(args)
    layers = args.layers or [n for n in cut_points(model) if n != "flatten"]
    x, y = data_mod.tensors(dataset, "train", n=args.images, seed=0)
    start = time.time()
    result = layer_subspaces(model, layers, (x.to(device), y.to(device)), method="auto", sketch_size=args.sketch,
                             function=args.function, train_mode=args.train_mode, progress=True)
    rows = result.table()
    if not is_main_process():
        return
    print(format_table(rows, ["layer", "method", "neurons", "samples", "directions", "captured", "active@0.9",
                              "active@0.95", "active@0.99", "active_authors@0.95"]))
    print(f"{args.model}: {len(layers)} layers from {args.images} images in {time.time() - start:.1f} s")


def _attack_study(args) -> None:
    from aslib import data as data_mod
    from aslib.distributed import is_main_process
    from aslib.studies import SweepSettings, noise_sweep
    from aslib.studies.tables import aggregate, format_table

    if args.ship:
        _ship_vectors(args)
        return
    model, dataset, device = _model(args)
    train = data_mod.load(dataset, "train")
    xt, yt = data_mod.tensors(dataset, "test", n=args.test_images, classes=args.classes, seed=0)
    kwargs = {"uap": {"variant": args.uap_variant}}
    if args.step_max is not None:
        kwargs["as"] = {"step_max": args.step_max}
    shared = SweepSettings(classes=args.classes, repeats=args.repeats, method_kwargs=kwargs, progress=True)
    rows = noise_sweep(model, train, (xt.to(device), yt.to(device)), xis=args.xis, n_samples=args.samples,
                       settings=shared)
    if not is_main_process():
        return
    values = ["train_attack_ratio", "test_attack_ratio", "test_fooling_rate", "time_s"]
    table = aggregate(rows, by=("xi", "method"), values=values)
    print(format_table(table, ["xi", "method", "count"] + [f"{v}_{s}" for v in values for s in ("mean", "std")], 3))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _ship_vectors(args) -> None:
    """``attack-study --ship``: craft the paper's experiment for a zoo model into the package (resumable),
    then print the shipped vectors' crafting-set and test attack ratios."""
    from aslib import data as data_mod
    from aslib.studies.tables import aggregate, format_table

    methods = args.methods or list(attacks.METHODS)
    model, dataset, device = _model(args)
    command = "python -m aslib.cli " + " ".join(shlex.quote(a) for a in args.argv)
    records = vectors.craft_vectors(args.model, xis=args.xis, repeats=args.repeats, experiment=args.experiment,
                                    methods=methods, solver=args.solver, command=command, device=device)
    spec = vectors.EXPERIMENTS[args.experiment]
    n_test = args.test_images if spec["classes"] is None else None  # one-class: every test image of the class
    xt, yt = data_mod.tensors(dataset, "test", n=n_test, classes=spec["classes"], seed=0, device=device)
    rows = []
    for method in methods:
        for xi in args.xis:
            shipped = vectors.shipped_vectors(args.model, method, xi, experiment=args.experiment, solver=args.solver)
            chosen = [r for r in records if r["method"] == method and r["xi"] == float(xi)]
            for record, v in zip(chosen, shipped):
                rows.append({"xi": float(xi), "method": method, "train_attack_ratio": record["train_attack_ratio"],
                             "test_attack_ratio": attacks.attack_ratio(model, xt, yt, v.to(device)),
                             "time_s": record["wall_time_s"]})
    values = ["train_attack_ratio", "test_attack_ratio", "time_s"]
    table = aggregate(rows, by=("xi", "method"), values=values)
    print(format_table(table, ["xi", "method", "count"] + [f"{v}_{s}" for v in values for s in ("mean", "std")], 3))


def _asnet(args) -> None:
    from aslib import data as data_mod
    from aslib.nets.asnet import build_asnet
    from aslib.fitting.finetuning import finetune
    from aslib.distributed import is_main_process
    from aslib.nets.counts import complexity, reduction
    from aslib.studies.tables import format_table

    model, dataset, device = _model(args)
    if not isinstance(model, torch.nn.Sequential):
        raise ValueError(f"{args.model} is a {type(model).__name__}, not an nn.Sequential: ASNet cuts sequential "
                         "models (layer-study and attack-study take any model)")
    config = dataclasses.replace(recipes.DEMO_FINETUNE, kd_epochs=args.kd_epochs,
                                 sparse_epochs=args.sparse_epochs, batch_size=args.batch_size,
                                 kd_lr=tuple(args.kd_lr), sparse_lr=tuple(args.sparse_lr),
                                 l1=args.l1, l1_pre=args.l1_pre, max_batches=args.max_batches or None,
                                 precision="bfloat16" if args.bf16 else "float32")
    run = {key: getattr(args, key) for key in ("model", "layer", "rank", "degree", "images", "passes")}
    run_file = args.out / "run.json"
    if run_file.exists() and json.loads(run_file.read_text()) != run:
        raise ValueError(f"{args.out} holds a run of another configuration ({run_file.read_text().strip()}); delete "
                         "the folder to start this one afresh, or pass another --out DIR")
    train = data_mod.load(dataset, "train")
    test = data_mod.tensors(dataset, "test", n=args.test_images, seed=0, device=device)
    batch = min(500, args.images)
    net, info = build_asnet(model, args.layer, train, rank=args.rank, degree=args.degree, passes=args.passes,
                            augment=True, batch_size=batch, max_batches=-(-args.images // batch),
                            ridge_per_sample=list(recipes.ASNetRecipe(args.model, args.layer).ridges_per_sample),
                            progress=is_main_process())
    args.out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(run))
    shape = tuple(train.images.shape[1:])
    history = finetune(net, model, train, test, config, checkpoint=args.out / "asnet_finetune.pt",
                       input_shape=shape, progress=True)
    if not is_main_process():
        return
    print(f"{args.model} cut at {args.layer}: r={info.rank}, p={info.degree}, {info.terms} PCE terms, "
          f"R2 {info.r2:.3f} in-sample, {info.r2_heldout:.3f} cross-validated, on {info.samples} rows")
    print(format_table(history, ["phase", "epoch", "test_accuracy", "nonzero_params", "sparse_macs"], 4))
    rows = [{"model": name, **complexity(m, shape)} for name, m in (("original", model), ("ASNet", net))]
    print(format_table(rows, ["model", "params", "nonzero_params", "storage_mb", "macs", "sparse_macs"], 2))
    print("reduction:", {k: round(v, 2) for k, v in reduction(rows[0], rows[1]).items()})
    (args.out / "history.json").write_text(json.dumps(history, indent=1))


def _data_status(root: Path | None) -> None:
    """``data``: the data root, where it comes from, and what it holds for each dataset of :data:`aslib.data.SPECS`."""
    from aslib import data as data_mod
    from aslib.studies.tables import format_table

    folder = data_mod.data_root(root)
    origin = "--root" if root else "$ASLIB_DATA" if "ASLIB_DATA" in os.environ else "the per-user default"
    print(f"data root: {folder} (from {origin}{'' if root else '; set ASLIB_DATA to use another folder'})")
    rows = []
    for name in data_mod.SPECS:
        kind, where = data_mod.located(name, root)
        found = where.name if kind == "archive" else f"{where.relative_to(folder)}/" if kind == "torchvision" else \
            "expected " + " or ".join(data_mod.expected_files(name))
        rows.append({"dataset": name, "found": kind, "files": found})
    print(format_table(rows, ["dataset", "found", "files"]))
    missing = [row["dataset"] for row in rows if row["found"] == "missing"]
    fetchable = [name for name in missing if data_mod.SPECS[name].torchvision_name]
    if missing:
        fetch = f" `aslib data --fetch {' '.join(fetchable)}{f' --root {root}' if root else ''}` downloads " \
                f"{'it' if len(fetchable) == 1 else 'them'} where there is a network." if fetchable else ""
        print(f"missing: {', '.join(missing)}.{fetch} The archives and their format: data/README.md of the repository.")


def _data_fetch(names: list[str], root: Path | None) -> None:
    """``data --fetch``: download the missing datasets ``names`` with torchvision into the data root. Without a
    network: a ``FileNotFoundError`` naming the files to put where (one line from :func:`main`, status 2)."""
    from aslib import data as data_mod

    folder = data_mod.data_root(root)
    for name in names:
        if not data_mod.dataset_spec(name).torchvision_name:
            raise ValueError(f"{name} is not downloadable (no torchvision release); put "
                             f"{data_mod.expected_files(name)[0]} in {folder}")
    todo = [name for name in names if data_mod.located(name, root)[0] == "missing"]
    for name in names:
        if name not in todo:
            print(f"{name}: already in {folder}")
    for position, name in enumerate(todo):
        print(f"{name}: downloading into {folder}", flush=True)
        try:
            for split in data_mod.SPLITS:
                data_mod.load(name, split, root, download=True)
        except (OSError, RuntimeError) as error:  # urllib's URLError is an OSError, and so is load's not-found
            reason = "torchvision's download failed" if isinstance(error, FileNotFoundError) else str(error)
            expected = "; ".join(f"{' or '.join(data_mod.expected_files(n))} for {n}" for n in todo[position:])
            raise FileNotFoundError(
                f"could not download {name} ({reason}; no network?). Put these in the data root {folder} (or set "
                f"ASLIB_DATA to a folder that has them): {expected}. `aslib data --fetch` writes them on a machine "
                "with a network; data/README.md of the repository gives the archive format") from None
        print(f"{name}: downloaded")


def _train(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    name = args.name or args.recipe
    out = args.out or (zoo.CHECKPOINT_DIR / f"{name}.pt" if args.ship else Path(f"{name}.pt"))
    if isinstance(recipes.RECIPES[args.recipe], recipes.CompressionRecipe):
        work = args.work or Path(f"{name}.work")
        meta = runs.run(args.recipe, work, device=args.device or "cpu")
        out.write_bytes((work / "model.pt").read_bytes())
    else:
        meta = training.train(args.recipe, out, device=args.device, amp=args.amp)
    print(json.dumps({k: v for k, v in meta.items() if k != "history"}, indent=2))
    if args.ship:
        command = "python -m aslib.cli " + " ".join(shlex.quote(a) for a in args.argv)
        print(json.dumps(zoo.ship(name, out, meta, command), indent=2))


def _select(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    name, meta, record = runs.select(args.candidates, args.work, device=args.device or "cpu")
    print(json.dumps(record, indent=2))
    if args.ship:
        out = zoo.CHECKPOINT_DIR / f"{name}.pt"
        out.write_bytes((args.work / f"{name}.work" / "model.pt").read_bytes())
        command = "python -m aslib.cli " + " ".join(shlex.quote(a) for a in args.argv)
        print(json.dumps(zoo.ship(name, out, {**meta, "selection": record}, command), indent=2))


def _zoo(args) -> None:
    for entry in zoo.entries():
        print(f"{entry['name']:28s} {entry['arch']:10s} {entry['dataset']:14s} "
              f"acc {100 * entry['test_accuracy']:.2f}%  {entry['size_bytes'] / 2**20:.2f} MiB")


def _report(args) -> None:
    from aslib.tools.report import run_report
    from aslib.teach.resources import notebooks

    run_report(args.out, preset=args.preset, force=args.force, notebooks=notebooks(args.notebooks, args.only))


def _student(args) -> None:
    from aslib.tools.handouts import nbgrader_notebook, student_notebook, student_page
    from aslib.teach.resources import docs_dir, notebooks

    if args.preset is not None and not args.nbgrader:
        raise ValueError("--preset applies to --nbgrader; the student versions keep the stored preset")
    for notebook in notebooks():
        if args.nbgrader:
            target = args.out / "source" / notebook.stem / notebook.name
            counts = nbgrader_notebook(notebook, target, preset=args.preset)
            print(f"{target}: {counts['autograded']} autograded, {counts['manual']} manually graded")
        else:
            stubbed = student_notebook(notebook, args.out / notebook.name)
            print(f"{args.out / notebook.name}: {stubbed} function(s) to implement")
    if not args.nbgrader:
        withheld = student_page(docs_dir() / "quizzes.md", args.out / "quizzes.md")
        print(f"{args.out / 'quizzes.md'}: the weekly quizzes, {withheld} answers withheld")


def _notebook_table(args) -> None:
    from aslib.tools.report import notebook_table, write_notebook_table

    pairs = [item.split("=", 1) for item in args.folder]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"--folder takes PRESET=DIR items (e.g. default=report), got {args.folder}")
    folders = {preset: Path(folder) for preset, folder in pairs}
    for page in args.into:
        write_notebook_table(page, folders)
    print(notebook_table(folders))


def _book(args) -> None:
    from aslib.tools.book import build

    print(build(args.notebooks, args.out))


def _data(args) -> None:
    if args.fetch is not None:
        _data_fetch(args.fetch or list(FETCHED), args.root)
    _data_status(args.root)


COMMANDS = {
    "train": _train,
    "select": _select,
    "zoo": _zoo,
    "layer-study": _layer_study,
    "attack-study": _attack_study,
    "asnet": _asnet,
    "report": _report,
    "student": _student,
    "notebook-table": _notebook_table,
    "book": _book,
    "data": _data,
}
"""Sub-command name -> the function that runs it."""
