"""Command line: ``aslib {train,zoo,report,data,...} ...`` (also ``python -m aslib`` or ``python -m aslib.cli``).

* ``train --recipe NAME [--out PATH] [--ship]``: train a recipe from :data:`aslib.training.RECIPES`, or
  build and fine-tune one of :data:`aslib.asnet_recipes.RECIPES` (resumes when interrupted; an ASNet
  recipe works in the folder ``--work``, default ``./NAME.work``); ``--ship`` writes the checkpoint into
  the package and records it in the zoo manifest (command, data source, seed, epochs, wall time,
  accuracy, sha256).
* ``zoo``: list the shipped checkpoints.
* ``layer-study --model NAME --images N``: active neurons of every cut point of a model (Markdown table).
  ``--model`` of ``layer-study``, ``attack-study`` and ``asnet`` is a zoo name, the path of a kit
  checkpoint, or ``torchvision:NAME`` with ``--dataset`` and a state dict ``--weights FILE`` (random
  weights without it).
* ``attack-study --model NAME --xis 5 10 --samples 200 --repeats 3 [--classes 1]``: AS vs UAP vs SGD-UAP vs
  the controls: noise sweep (Markdown table of means and standard deviations, rows as JSON with ``--json``);
  with ``--ship [--experiment allclass|oneclass|transfer]`` it crafts the paper's experiment into the
  package instead (resumable, :mod:`aslib.vectors`) and prints the shipped vectors' ratios
  (``--methods as --solver authors``: AS vectors of the authors' one-step solver, shipped as a variant).
* ``asnet --model NAME --layer conv5 --rank 50 --degree 2 --out DIR``: build an ASNet from a zoo model and
  fine-tune it (distillation, then l1-sparse retraining), resumable; prints the complexity table.
* ``report [--out report] [--only 01 03]``: execute the notebooks shipped in the package with papermill
  (each in the output folder) and collect the report (see :mod:`aslib.report`); ``--only`` keeps the
  notebooks whose name starts with the given numbers.
* ``student [--out notebooks/student]``: the student versions of the notebooks, the body of every exercise
  solution (cells tagged ``solution``) replaced by ``raise NotImplementedError`` (see :mod:`aslib.exercises`).
* ``report --notebooks DIR``: execute the notebooks of another folder (e.g. the student versions).
* ``data [--fetch [NAME ...]]``: where the data root is and what it holds for each dataset (archive,
  torchvision files or missing); ``--fetch`` downloads the missing ones with torchvision (default: those the
  notebooks use), and says which files to put where when there is no network (see :mod:`aslib.data`).
* ``notebook-table [--folder PRESET=DIR ...] [--into README.md docs/course.md]``: the notebooks, what each teaches
  and their run times per preset from the report folders' stamp files (written into the README and the course map
  by ``make report``).
* ``book --notebooks report --out report/book``: the static HTML book of the executed notebooks and
  ``docs/`` (see :mod:`aslib.book`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from pathlib import Path

import torch

from . import __version__, asnet_recipes, attacks, gradients, training, vectors, zoo
from ._utils import check_device, default_device

FETCHED = ("mnist", "fashion_mnist", "cifar10")
"""The datasets ``aslib data --fetch`` downloads when given no names: those the notebooks use."""


def _model(args):
    """``(model, dataset name, device)`` from ``--model`` (a zoo name, a kit checkpoint path or
    ``torchvision:NAME``), ``--weights`` and ``--dataset`` (:func:`aslib.zoo.resolve`)."""
    from .distributed import init_from_environment

    init_from_environment()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = check_device(args.device) if args.device else default_device()
    model, dataset = zoo.resolve(args.model, weights=args.weights, dataset=args.dataset, map_location=device)
    return model, dataset, device


def _layer_study(args) -> None:
    from . import data as data_mod
    from .distributed import is_main_process
    from .models import cut_points
    from .subspace import layer_subspaces
    from .tables import format_table

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
    from . import data as data_mod
    from .distributed import is_main_process
    from .studies import noise_sweep
    from .tables import aggregate, format_table

    if args.ship:
        _ship_vectors(args)
        return
    model, dataset, device = _model(args)
    train = data_mod.load(dataset, "train")
    xt, yt = data_mod.tensors(dataset, "test", n=args.test_images, classes=args.classes, seed=0)
    kwargs = {"uap": {"variant": args.uap_variant}}
    if args.step_max is not None:
        kwargs["as"] = {"step_max": args.step_max}
    rows = noise_sweep(model, train, (xt.to(device), yt.to(device)), xis=args.xis, n_samples=args.samples,
                               classes=args.classes, repeats=args.repeats, method_kwargs=kwargs, progress=True)
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
    from . import data as data_mod
    from .tables import aggregate, format_table

    methods = args.methods or list(attacks.METHODS)
    model, dataset, device = _model(args)
    command = "python -m aslib.cli " + " ".join(shlex.quote(a) for a in args.argv)
    records = vectors.craft_vectors(args.model, xis=args.xis, repeats=args.repeats, experiment=args.experiment,
                                    methods=methods, solver=args.solver, command=command, device=device)
    variant = None if args.solver == "exact" else args.solver
    spec = vectors.EXPERIMENTS[args.experiment]
    n_test = args.test_images if spec["classes"] is None else None  # one-class: every test image of the class
    xt, yt = data_mod.tensors(dataset, "test", n=n_test, classes=spec["classes"], seed=0, device=device)
    rows = []
    for method in methods:
        for xi in args.xis:
            shipped = vectors.shipped_vectors(args.model, method, xi, experiment=args.experiment, variant=variant)
            chosen = [r for r in records if r["method"] == method and r["xi"] == float(xi)]
            for record, v in zip(chosen, shipped):
                rows.append({"xi": float(xi), "method": method, "train_attack_ratio": record["train_attack_ratio"],
                             "test_attack_ratio": attacks.attack_ratio(model, xt, yt, v.to(device)),
                             "time_s": record["wall_time_s"]})
    values = ["train_attack_ratio", "test_attack_ratio", "time_s"]
    table = aggregate(rows, by=("xi", "method"), values=values)
    print(format_table(table, ["xi", "method", "count"] + [f"{v}_{s}" for v in values for s in ("mean", "std")], 3))


def _asnet(args) -> None:
    from . import data as data_mod
    from .asnet import build_asnet
    from .finetuning import finetune
    from .distributed import is_main_process
    from .metrics import complexity, reduction
    from .tables import format_table

    model, dataset, device = _model(args)
    if not isinstance(model, torch.nn.Sequential):
        raise ValueError(f"{args.model} is a {type(model).__name__}, not an nn.Sequential: ASNet cuts sequential "
                         "models (layer-study and attack-study take any model)")
    config = dataclasses.replace(asnet_recipes.DEMO_FINETUNE, kd_epochs=args.kd_epochs,
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
                            ridge_per_sample=list(asnet_recipes.ASNetRecipe(args.model, args.layer).ridges_per_sample),
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
    from . import data as data_mod
    from .tables import format_table

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
    from . import data as data_mod

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aslib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"aslib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a recipe (resumable)")
    p_train.add_argument("--recipe", required=True, choices=sorted(training.RECIPES) + sorted(asnet_recipes.RECIPES))
    p_train.add_argument("--out", type=Path, help="checkpoint path (default: aslib/checkpoints/<name>.pt with --ship)")
    p_train.add_argument("--ship", action="store_true", help="write into the package zoo and its manifest")
    p_train.add_argument("--name", help="zoo name (default: the recipe name)")
    p_train.add_argument("--work", type=Path, help="resumable working folder of an ASNet recipe (default: ./NAME.work)")
    p_train.add_argument("--threads", type=int, help="torch CPU threads")
    p_train.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p_train.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                         help="mixed precision: float16 on CUDA (default there), bfloat16 on a CPU (opt-in)")
    sub.add_parser("zoo", help="list shipped checkpoints")
    p_layer = sub.add_parser("layer-study", help="active neurons per layer of a zoo model")
    p_layer.add_argument("--model", required=True)
    p_layer.add_argument("--images", type=int, default=2000, help="training images")
    p_layer.add_argument("--sketch", type=int, default=None, help="frequent-directions sketch size")
    p_layer.add_argument("--layers", nargs="*", help="default: every cut point except flatten")
    p_layer.add_argument("--function", default="loss", choices=gradients.FUNCTIONS)
    p_layer.add_argument("--train-mode", action="store_true", help="batch-norm in train mode (the authors' setting)")
    p_attack = sub.add_parser("attack-study", help="AS vs UAP vs SGD-UAP vs the controls: noise sweep, or --ship vectors")
    p_attack.add_argument("--model", required=True)
    p_attack.add_argument("--xis", type=float, nargs="+", default=[5, 6, 7, 8, 9, 10])
    p_attack.add_argument("--samples", type=int, default=200, help="crafting samples per repeat")
    p_attack.add_argument("--test-images", type=int, default=None, help="test images (default: the whole split)")
    p_attack.add_argument("--repeats", type=int, default=3)
    p_attack.add_argument("--classes", type=int, nargs="*", help="one-class study: e.g. --classes 1")
    p_attack.add_argument("--step-max", type=float, default=None, help="AS first step (default xi^2)")
    p_attack.add_argument("--uap-variant", default="original", choices=attacks.UAP_VARIANTS)
    p_attack.add_argument("--json", type=Path, help="write all rows to this file")
    p_attack.add_argument("--ship", action="store_true",
                          help="craft the paper's experiment into the package (resumable; see aslib.vectors)")
    p_attack.add_argument("--experiment", default="allclass", choices=sorted(vectors.EXPERIMENTS),
                          help="with --ship: the crafting sets (200 all-class, 100 / 50 images of class 1)")
    p_attack.add_argument("--methods", nargs="+", default=None, choices=attacks.METHODS,
                          help="with --ship: the methods to craft (default: every one of aslib.attacks.METHODS)")
    p_attack.add_argument("--solver", default="exact", choices=vectors.SOLVER_VARIANTS,
                          help="with --ship --methods as: the AS direction solver (authors: shipped as a variant)")
    p_asnet = sub.add_parser("asnet", help="build and fine-tune an ASNet from a zoo model")
    p_asnet.add_argument("--model", required=True)
    p_asnet.add_argument("--layer", default="conv5", help="cut point (a name from aslib.models.cut_points)")
    p_asnet.add_argument("--rank", type=int, default=50, help="r, the number of active directions")
    p_asnet.add_argument("--degree", type=int, default=2, help="p, the total PCE degree")
    p_asnet.add_argument("--images", type=int, default=50000, help="training images for the AS and PCE fit (augmented)")
    p_asnet.add_argument("--passes", type=int, default=1, help="augmented passes of the PCE regression")
    p_asnet.add_argument("--test-images", type=int, default=None, help="test images (default: the whole split)")
    recipe = asnet_recipes.DEMO_FINETUNE
    p_asnet.add_argument("--kd-epochs", type=int, default=recipe.kd_epochs)
    p_asnet.add_argument("--sparse-epochs", type=int, default=recipe.sparse_epochs)
    p_asnet.add_argument("--batch-size", type=int, default=recipe.batch_size,
                         help="global batch (split over torchrun ranks)")
    p_asnet.add_argument("--max-batches", type=int, default=recipe.max_batches, help="batches per epoch (0: all)")
    groups = ("PRE", "AS", "PCE")
    p_asnet.add_argument("--kd-lr", type=float, nargs=3, default=list(recipe.kd_lr), metavar=groups)
    p_asnet.add_argument("--sparse-lr", type=float, nargs=3, default=list(recipe.sparse_lr), metavar=groups)
    p_asnet.add_argument("--l1", type=float, default=recipe.l1, help="l1 weight of the AS and PCE layers")
    p_asnet.add_argument("--l1-pre", type=float, default=recipe.l1_pre, help="l1 weight of the pre-model convolutions")
    p_asnet.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                         help="bfloat16 autocast of the forward passes (default on)")
    p_asnet.add_argument("--out", type=Path, default=Path("asnet_run"), help="folder for the resumable checkpoint")
    for p in (p_layer, p_attack, p_asnet):
        p.add_argument("--threads", type=int)
        p.add_argument("--device", default=None)
        p.add_argument("--weights", type=Path, help="with --model torchvision:NAME: a state-dict file")
        p.add_argument("--dataset", help="the dataset of a torchvision model or of a checkpoint that names none")
    p_report = sub.add_parser("report", help="execute the notebooks and write the report")
    p_report.add_argument("--out", type=Path, default=Path("report"))
    p_report.add_argument("--preset", default="default", help="default, smoke or paper")
    p_report.add_argument("--force", action="store_true", help="re-execute notebooks already up to date")
    p_report.add_argument("--notebooks", type=Path,
                          help="folder of the notebooks to execute (default: the notebooks shipped in the package)")
    p_report.add_argument("--only", nargs="+", metavar="NN",
                          help="only the notebooks whose name starts with these numbers (e.g. --only 01 03)")
    p_student = sub.add_parser("student", help="write the student versions of the notebooks (solutions stubbed), "
                                                "or with --nbgrader the nbgrader source of a course")
    p_student.add_argument("--out", type=Path, default=Path("notebooks/student"))
    p_student.add_argument("--nbgrader", action="store_true",
                           help="write OUT/source/NAME/NAME.ipynb, one nbgrader assignment per notebook, with the "
                                "solutions marked and the checks as autograded tests")
    p_student.add_argument("--preset", help="with --nbgrader: the preset written into each notebook, smoke, "
                                                "default or paper (default: as stored)")
    p_data = sub.add_parser("data", help="where the data root is and which datasets it holds; --fetch downloads")
    p_data.add_argument("--fetch", nargs="*", metavar="NAME",
                        help=f"download the missing datasets NAME (default: {' '.join(FETCHED)}) with torchvision")
    p_data.add_argument("--root", type=Path, help="data root (default: $ASLIB_DATA, else the per-user data folder)")
    p_table = sub.add_parser("notebook-table", help="the notebooks with their run time per preset (Markdown)")
    p_table.add_argument("--folder", nargs="+", default=["smoke=report/smoke", "default=report"],
                         metavar="PRESET=DIR", help="report folders whose stamp files hold the timings")
    p_table.add_argument("--into", type=Path, nargs="+", default=[], metavar="PAGE",
                         help="write the table into the notebook-table block of these Markdown pages")
    p_book = sub.add_parser("book", help="build the static HTML book of executed notebooks and docs")
    p_book.add_argument("--notebooks", type=Path, default=Path("report"),
                        help="folder of executed notebooks (a report folder)")
    p_book.add_argument("--out", type=Path, default=Path("report/book"), help="output folder (HTML in OUT/html)")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    try:
        _dispatch(args)
    except (ValueError, FileNotFoundError) as error:  # aslib's answer to bad input: one line, status 2
        print(f"aslib {args.command}: error: {error}", file=sys.stderr)
        return 2
    from .distributed import shutdown

    shutdown()
    return 0


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "train":
        if args.threads:
            torch.set_num_threads(args.threads)
        name = args.name or args.recipe
        out = args.out or (zoo.CHECKPOINT_DIR / f"{name}.pt" if args.ship else Path(f"{name}.pt"))
        if args.recipe in asnet_recipes.RECIPES:
            work = args.work or Path(f"{name}.work")
            meta = asnet_recipes.run(args.recipe, work, device=args.device or "cpu")
            out.write_bytes((work / "model.pt").read_bytes())
        else:
            meta = training.train(args.recipe, out, device=args.device, amp=args.amp)
        print(json.dumps({k: v for k, v in meta.items() if k != "history"}, indent=2))
        if args.ship:
            command = "python -m aslib.cli " + " ".join(shlex.quote(a) for a in args.argv)
            print(json.dumps(zoo.ship(name, out, meta, command), indent=2))
    elif args.command == "zoo":
        for entry in zoo.entries():
            print(f"{entry['name']:28s} {entry['arch']:10s} {entry['dataset']:14s} "
                  f"acc {100 * entry['test_accuracy']:.2f}%  {entry['size_bytes'] / 2**20:.2f} MiB")
    elif args.command == "layer-study":
        _layer_study(args)
    elif args.command == "attack-study":
        _attack_study(args)
    elif args.command == "asnet":
        _asnet(args)
    elif args.command == "report":
        from .report import run_report

        from .resources import notebooks

        run_report(args.out, preset=args.preset, force=args.force, notebooks=notebooks(args.notebooks, args.only))
    elif args.command == "student":
        from .handouts import nbgrader_notebook, student_notebook, student_page
        from .resources import docs_dir, notebooks

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
    elif args.command == "notebook-table":
        from .report import notebook_table, write_notebook_table

        pairs = [item.split("=", 1) for item in args.folder]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"--folder takes PRESET=DIR items (e.g. default=report), got {args.folder}")
        folders = {preset: Path(folder) for preset, folder in pairs}
        for page in args.into:
            write_notebook_table(page, folders)
        print(notebook_table(folders))
    elif args.command == "book":
        from .book import build

        print(build(args.notebooks, args.out))
    elif args.command == "data":
        if args.fetch is not None:
            _data_fetch(args.fetch or list(FETCHED), args.root)
        _data_status(args.root)


if __name__ == "__main__":
    sys.exit(main())
