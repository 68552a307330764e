"""The versions of the notebooks handed to learners and graders, made from the stored (instructor) notebooks.

The stored notebooks are the instructor version: every exercise solution is there, in code cells tagged
:data:`SOLUTION_TAG` and in Markdown as ``<details><summary>Solution</summary>`` or
``<details><summary>Answer</summary>`` blocks (the answers of the "Think!" questions). Two versions derive from it:

* :func:`student_notebook`: the body of every solution function becomes ``raise NotImplementedError`` (signature and
  docstring stay), every prose solution becomes :data:`PROSE_PLACEHOLDER` (:func:`student_page` does the same for a
  Markdown page, the weekly quizzes);
* :func:`nbgrader_notebook`: the instructor version with nbgrader cell metadata (nbgrader's ``source`` notebook):
  each solution function body between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, the check after it an
  autograded test cell that fails on a stub, and every prose solution a manually graded answer. ``nbgrader
  generate_assignment`` then makes the release version and ``nbgrader autograde`` grades submissions.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from aslib._utils import check_choice
from aslib.contracts import PositiveReal, contract
from aslib.teach.presets import PRESET_NAMES

SOLUTION_TAG = "solution"
"""Cell tag of the exercise solutions in the stored notebooks."""

PROSE_SOLUTION = re.compile(r"<details>\s*<summary>\s*(?:Solution|Answer)\s*</summary>.*?</details>", re.S)
"""A solution or the answer to a "Think!" question, written in prose in a Markdown cell."""

PROSE_PLACEHOLDER = "*(The answer is in the instructor version of this notebook.)*"

CHECK_CALL = re.compile(r"aslib\.teach\.exercises\.(check_\w+)\((\w+)\)")
"""The call of an exercise check on the learner's function, in the cell after a solution cell."""

NBGRADER_SCHEMA = 3
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def _cells(source: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    notebook = json.loads(Path(source).read_text())
    return notebook, notebook["cells"]


def _write(notebook: dict[str, Any], target: str | Path) -> None:
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def _is_solution(cell: dict[str, Any]) -> bool:
    return cell["cell_type"] == "code" and SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def _functions(text: str, source: str | Path) -> list[tuple[ast.FunctionDef, int]]:
    """The top-level functions of a solution cell, each with the line (1-based) where its body starts after the
    docstring."""
    found = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            body_start = node.body[0].end_lineno + 1 if ast.get_docstring(node) is not None else node.body[0].lineno
            found.append((node, body_start))
    if not found:
        raise ValueError(f"{source}: a cell tagged {SOLUTION_TAG!r} defines no function")
    return found


@contract
def student_notebook(source: str | Path, target: str | Path) -> int:
    """Write the student version of the notebook ``source`` to ``target``: in every cell tagged
    :data:`SOLUTION_TAG`, each top-level function keeps its signature and docstring and its body becomes
    ``raise NotImplementedError``; other code in such a cell is dropped; every prose solution of a Markdown cell
    (:data:`PROSE_SOLUTION`) becomes :data:`PROSE_PLACEHOLDER`. Returns the number of functions stubbed (a
    tagged cell without a function is an error)."""
    notebook, cells = _cells(source)
    stubbed = 0
    for cell in cells:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if PROSE_SOLUTION.search(text):
                cell["source"] = PROSE_SOLUTION.sub(PROSE_PLACEHOLDER, text).splitlines(keepends=True)
            continue
        if not _is_solution(cell):
            continue
        lines = text.splitlines()
        stubs = []
        for node, body_start in _functions(text, source):
            indent = " " * node.body[0].col_offset
            stubs.append("\n".join(lines[node.lineno - 1 - len(node.decorator_list):body_start - 1])
                         + f'\n{indent}raise NotImplementedError("your code here")\n')
        stubbed += len(stubs)
        cell["source"] = "\n\n".join(stubs).splitlines(keepends=True)
        cell["outputs"], cell["execution_count"] = [], None
    _write(notebook, target)
    return stubbed


@contract
def student_page(source: str | Path, target: str | Path) -> int:
    """Write the student version of the Markdown page ``source`` (e.g. ``docs/quizzes.md``) to ``target``: every
    prose solution (:data:`PROSE_SOLUTION`) becomes :data:`PROSE_PLACEHOLDER`. Returns the number withheld."""
    text, withheld = PROSE_SOLUTION.subn(PROSE_PLACEHOLDER, Path(source).read_text())
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(text)
    return withheld


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float) -> dict[str, Any]:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": NBGRADER_SCHEMA,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


@contract
def nbgrader_notebook(source: str | Path, target: str | Path, *, points: PositiveReal = 1.0,
                      preset: str | None = None) -> dict[str, int]:
    """Write the nbgrader source version of the notebook ``source`` to ``target``.

    * every cell tagged :data:`SOLUTION_TAG`: an "autograded answer" cell (nbgrader ``solution``), each
      function's body between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (signature and docstring stay in
      the release version);
    * the cell that calls its check (``aslib.teach.exercises.check_...(my_...)``): an "autograder tests" cell worth
      ``points``, locked, whose call becomes ``assert aslib.teach.exercises.check_...(my_...)``, so a function that
      still
      raises ``NotImplementedError`` (the check returns None) scores zero and a wrong one fails with the check's
      explanation;
    * every Markdown cell with prose solutions (:data:`PROSE_SOLUTION`): a "manually graded answer" worth
      ``points``, each solution between the markers (the question stays in the release version);
    * ``preset``: the value written into the parameters cell (e.g. ``"smoke"`` for a quick autograde run).

    Returns the number of ``{"autograded": ..., "manual": ...}`` graded cells.
    """
    if preset is not None:
        check_choice("preset", preset, PRESET_NAMES)
    notebook, cells = _cells(source)
    stem = Path(source).stem
    counts = {"autograded": 0, "manual": 0}
    for index, cell in enumerate(cells):
        text = "".join(cell["source"])
        meta = cell.setdefault("metadata", {})
        if cell["cell_type"] == "markdown" and PROSE_SOLUTION.search(text):
            counts["manual"] += 1
            text = PROSE_SOLUTION.sub(lambda m: f"{BEGIN}\n{m.group(0)}\n{END}", text)
            meta["nbgrader"] = _nbgrader(f"{stem}-answer-{counts['manual']}", solution=True, grade=True,
                                         locked=False, points=points)
        elif _is_solution(cell):
            lines = text.splitlines()
            for node, body_start in sorted(_functions(text, source), key=lambda f: -f[0].lineno):
                indent = " " * node.body[0].col_offset
                lines[body_start - 1:node.end_lineno] = [indent + BEGIN, *lines[body_start - 1:node.end_lineno],
                                                         indent + END]
            text = "\n".join(lines) + "\n"
            names = "-".join(node.name for node, _ in _functions("".join(cell["source"]), source))
            meta["nbgrader"] = _nbgrader(f"{stem}-{names}", solution=True, grade=False, locked=False, points=points)
            following = cells[index + 1] if index + 1 < len(cells) else None
            calls = CHECK_CALL.findall("".join(following["source"])) if following else []
            if not calls:
                raise ValueError(f"{source}: the cell after the solution of {names} calls no "
                                 "aslib.teach.exercises check")
            check_text = CHECK_CALL.sub(lambda m: f"assert {m.group(0)}, \"{m.group(2)} is not implemented yet\"",
                                        "".join(following["source"]))
            following["source"] = check_text.splitlines(keepends=True)
            following.setdefault("metadata", {})["nbgrader"] = _nbgrader(
                f"{stem}-{calls[0][0]}", solution=False, grade=True, locked=True, points=points)
            counts["autograded"] += 1
        elif preset is not None and "parameters" in meta.get("tags", []):
            text, found = re.subn(r'^preset = "[^"]*"', f'preset = "{preset}"', text, flags=re.M)
            if not found:
                raise ValueError(f"{source}: the parameters cell sets no preset")
        else:
            continue
        cell["source"] = text.splitlines(keepends=True)
    _write(notebook, target)
    return counts


__all__ = ["PROSE_PLACEHOLDER", "PROSE_SOLUTION", "SOLUTION_TAG", "nbgrader_notebook", "student_notebook",
           "student_page"]
