"""The argument parser of the command line (:mod:`aslib.cli`): one sub-command each, with the choices the library
holds (recipes, gradient functions, UAP variants, experiments, methods, solvers)."""
from __future__ import annotations

import argparse
from pathlib import Path

from aslib import __version__, attacks
from aslib.cli.commands import FETCHED
from aslib.contracts import contract
from aslib.fitting import recipes
from aslib.nets import gradients
from aslib.store import vectors


@contract
def build_parser(description: str) -> argparse.ArgumentParser:
    """The ``aslib`` parser; ``description`` is the usage text shown by ``aslib --help``."""
    parser = argparse.ArgumentParser(prog="aslib", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"aslib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train a recipe (resumable)")
    p_train.add_argument("--recipe", required=True, choices=sorted(recipes.RECIPES))
    p_train.add_argument("--out", type=Path, help="checkpoint path (default: aslib/checkpoints/<name>.pt with --ship)")
    p_train.add_argument("--ship", action="store_true", help="write into the package zoo and its manifest")
    p_train.add_argument("--name", help="zoo name (default: the recipe name)")
    p_train.add_argument("--work", type=Path, help="resumable working folder of an ASNet recipe (default: ./NAME.work)")
    p_train.add_argument("--threads", type=int, help="torch CPU threads")
    p_train.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p_train.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                         help="mixed precision: float16 on CUDA (default there), bfloat16 on a CPU (opt-in)")
    p_select = sub.add_parser("select", help="run recipes that hold out a validation split and keep the best one")
    p_select.add_argument("--candidates", nargs="+", required=True, choices=sorted(recipes.compression_recipes()),
                          help="two or more recipes with the same validation split (e.g. the ..._val14 ASNets)")
    p_select.add_argument("--work", type=Path, default=Path("select.work"),
                          help="folder holding each candidate's resumable NAME.work folder")
    p_select.add_argument("--ship", action="store_true", help="write the chosen one into the package zoo")
    p_select.add_argument("--threads", type=int, help="torch CPU threads")
    p_select.add_argument("--device", help="cpu or cuda (default: cpu)")
    sub.add_parser("zoo", help="list shipped checkpoints")
    p_layer = sub.add_parser("layer-study", help="active neurons per layer of a zoo model")
    p_layer.add_argument("--model", required=True)
    p_layer.add_argument("--images", type=int, default=2000, help="training images")
    p_layer.add_argument("--sketch", type=int, default=None, help="frequent-directions sketch size")
    p_layer.add_argument("--layers", nargs="*", help="default: every cut point except flatten")
    p_layer.add_argument("--function", default="loss", choices=gradients.FUNCTIONS)
    p_layer.add_argument("--train-mode", action="store_true", help="batch-norm in train mode (the authors' setting)")
    p_attack = sub.add_parser("attack-study",
                              help="AS vs UAP vs SGD-UAP vs the controls: noise sweep, or --ship vectors")
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
                          help="craft the paper's experiment into the package (resumable; see aslib.store.vectors)")
    p_attack.add_argument("--experiment", default="allclass", choices=sorted(vectors.EXPERIMENTS),
                          help="with --ship: the crafting sets (200 all-class, 100 / 50 images of class 1)")
    p_attack.add_argument("--methods", nargs="+", default=None, choices=attacks.METHODS,
                          help="with --ship: the methods to craft (default: every one of aslib.attacks.METHODS)")
    p_attack.add_argument("--solver", default="exact", choices=vectors.SHIPPED_SOLVERS,
                          help="with --ship --methods as: the AS direction solver (authors: shipped as a variant)")
    p_asnet = sub.add_parser("asnet", help="build and fine-tune an ASNet from a zoo model")
    p_asnet.add_argument("--model", required=True)
    p_asnet.add_argument("--layer", default="conv5", help="cut point (a name from aslib.nets.models.cut_points)")
    p_asnet.add_argument("--rank", type=int, default=50, help="r, the number of active directions")
    p_asnet.add_argument("--degree", type=int, default=2, help="p, the total PCE degree")
    p_asnet.add_argument("--images", type=int, default=50000, help="training images for the AS and PCE fit (augmented)")
    p_asnet.add_argument("--passes", type=int, default=1, help="augmented passes of the PCE regression")
    p_asnet.add_argument("--test-images", type=int, default=None, help="test images (default: the whole split)")
    recipe = recipes.DEMO_FINETUNE
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
    return parser
