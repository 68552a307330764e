"""Command line: ``aslib {train,zoo,report,data,...} ...`` (also ``python -m aslib`` or ``python -m aslib.cli``).

* ``train --recipe NAME [--out PATH] [--ship]``: run a recipe of :data:`aslib.fitting.recipes.RECIPES`: train a
  network from scratch, or build and fine-tune a compressed one (resumes when interrupted; an ASNet
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
  package instead (resumable, :mod:`aslib.store.vectors`) and prints the shipped vectors' ratios
  (``--methods as --solver authors``: AS vectors of the authors' one-step solver, shipped as a variant).
* ``asnet --model NAME --layer conv5 --rank 50 --degree 2 --out DIR``: build an ASNet from a zoo model and
  fine-tune it (distillation, then l1-sparse retraining), resumable; prints the complexity table.
* ``report [--out report] [--only 01 03]``: execute the notebooks shipped in the package with papermill
  (each in the output folder) and collect the report (see :mod:`aslib.tools.report`); ``--only`` keeps the
  notebooks whose name starts with the given numbers.
* ``student [--out notebooks/student]``: the student versions of the notebooks, the body of every exercise
  solution (cells tagged ``solution``) replaced by ``raise NotImplementedError`` (see :mod:`aslib.teach.exercises`).
* ``report --notebooks DIR``: execute the notebooks of another folder (e.g. the student versions).
* ``data [--fetch [NAME ...]]``: where the data root is and what it holds for each dataset (archive,
  torchvision files or missing); ``--fetch`` downloads the missing ones with torchvision (default: those the
  notebooks use), and says which files to put where when there is no network (see :mod:`aslib.data`).
* ``notebook-table [--folder PRESET=DIR ...] [--into README.md docs/course.md]``: the notebooks, what each teaches
  and their run times per preset from the report folders' stamp files (written into the README and the course map
  by ``make report``).
* ``book --notebooks report --out report/book``: the static HTML book of the executed notebooks and
  ``docs/`` (see :mod:`aslib.tools.book`).
"""
from __future__ import annotations

import sys
from collections.abc import Sequence

from aslib.cli.commands import COMMANDS
from aslib.cli.parser import build_parser
from aslib.contracts import contract
from aslib.distributed import shutdown


@contract
def main(argv: Sequence[str] | None = None) -> int:
    """Run one command of the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status
    (0, or 2 with one line on stderr for a user error)."""
    parser = build_parser(__doc__)
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    try:
        COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as error:  # aslib's answer to bad input: one line, status 2
        print(f"aslib {args.command}: error: {error}", file=sys.stderr)
        return 2
    shutdown()
    return 0


__all__ = ["main"]
