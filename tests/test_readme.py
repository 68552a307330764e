"""The README's quick-start commands run as written (from the repository root, in a scratch copy of the outputs)."""
from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs

import aslib

ROOT = Path(__file__).resolve().parents[1]


def quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the README's quick start needs a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_uses_only_kit_entry_points():
    for line in quick_start():
        assert line.startswith((".venv/bin/python -m aslib.cli ", ".venv/bin/papermill ")), line


@needs("fashion_mnist")
@pytest.mark.parametrize("line", quick_start())
def test_each_quick_start_command_runs(line, tmp_path):
    argv = shlex.split(line)
    program = Path(argv[0]).name  # .venv/bin/python or .venv/bin/papermill: this interpreter's own
    argv = [sys.executable, *argv[1:]] if program == "python" else [sys.executable, "-m", "papermill", *argv[1:]]
    if program == "papermill":  # write the executed notebook into the scratch folder
        argv[4] = str(tmp_path / argv[4])
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]


def _preset_keys(notebook: Path) -> dict[str, set[str]]:
    """The parameter names of each preset, read from the notebook's ``aslib.teach.nb.start(...)`` call."""
    import ast
    import json

    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "aslib.teach.nb.start(" in source:
            call = next(node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                        and getattr(node.func, "attr", "") == "start")
            return {kw.arg: {k.arg for k in kw.value.keywords} for kw in call.keywords
                    if isinstance(kw.value, ast.Call)}
    raise AssertionError(f"{notebook.name} has no aslib.teach.nb.start(...) cell")


def papermill_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if "papermill notebooks/" in line]


def test_readme_papermill_examples_name_real_notebooks_presets_and_override_keys():
    examples = papermill_examples()
    assert len(examples) >= 3
    for line in examples:
        argv = shlex.split(line)
        notebook = ROOT / argv[1]
        assert notebook.exists(), line
        keys = _preset_keys(notebook)
        preset = argv[argv.index("preset") + 1] if "preset" in argv else "default"
        assert preset in keys, f"{line}: no preset {preset!r} (known: {sorted(keys)})"
        if "-y" in argv:
            mapping = re.fullmatch(r"overrides: \{(.*)\}", argv[argv.index("-y") + 1])
            assert mapping, line
            names = {item.split(":")[0].strip() for item in mapping.group(1).split(",")}
            assert names <= keys[preset], f"{line}: {sorted(names - keys[preset])} not in {sorted(keys[preset])}"


@pytest.mark.parametrize("page", ["README.md", "docs/course.md"])
def test_the_notebook_table_lists_every_notebook_as_the_report_renders_it(page):
    from aslib.tools.report import TABLE_MARKERS, notebook_subject

    text = (ROOT / page).read_text()
    block = text.split(TABLE_MARKERS[0])[1].split(TABLE_MARKERS[1])[0].strip().splitlines()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert block[0].startswith("| notebook | what it teaches |") and len(block) == len(notebooks) + 5
    for row, notebook in zip(block[2:], notebooks):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[:2] == [notebook.name, notebook_subject(notebook)]
        assert all(re.fullmatch(r"\d+[*?]?|-", c) for c in cells[2:]), row
    assert block[-1].startswith("Measured on ")


def readme_module_table(readme: str) -> dict[str, set[str]]:
    """``{folder: names in backticks in its module and description cells}`` of the README's "What is inside" table (a blank folder cell continues the
    folder above; the top-level modules sit under ``""``)."""
    lines = readme.split("| folder | module | what it does |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    listed: dict[str, set[str]] = {}
    folder = ""
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        folder = cells[0].strip("`/") if cells[0] else folder
        listed.setdefault(folder, set()).update(re.findall(r"`([\w.]+)`", " ".join(cells[1:3])))
    return listed


def test_readme_module_table_and_package_docstring_name_every_public_module():
    package = ROOT / "aslib"
    public = sorted({p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
                    | {p.name for p in package.iterdir() if (p / "__init__.py").exists()})
    listed = readme_module_table((ROOT / "README.md").read_text())
    names = set().union(*listed.values())
    assert len(listed) >= 8, "the README lost its module table"
    for top in public:
        module = importlib.import_module(f"aslib.{top}")
        if hasattr(module, "__path__") and not hasattr(module, "__all__"):  # a folder of modules: each one listed
            inside = {info.name for info in pkgutil.iter_modules(module.__path__) if not info.name.startswith("_")}
            assert inside - listed.get(top, set()) == set(), f"README: modules of {top}/ missing from its rows"
        else:
            assert f"aslib.{top}" in names, f"README: aslib.{top} missing from the module table"
    assert [m for m in public if f":mod:`aslib.{m}`" not in aslib.__doc__] == []
