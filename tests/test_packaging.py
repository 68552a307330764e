import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    return {re.split(r"[<>=\[ ]", r.strip())[0].lower() for r in requirements if r.strip() and not r.startswith("-e")}


def test_environment_yml_declares_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= _names(extra)
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    conda_pip = [line.strip()[2:] for line in lines[start + 1:] if line.strip().startswith("- ")]
    assert _names(conda_pip) == declared


def test_stored_notebooks_have_no_outputs_and_a_parameters_cell():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for path in notebooks:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), f"{path.name} has outputs"
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
        assert "preset" in "".join(tagged[0]["source"])


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)[:2]
    assert [c.strip() for c in commands] == ["make report", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_notebooks_docs_and_py_typed_are_package_data_through_the_symlinks():
    from aslib.teach import resources

    for name in ("notebooks", "docs"):
        link = ROOT / "aslib" / name
        assert link.is_symlink() and os.readlink(link) == f"../{name}", f"aslib/{name} must be a link to ../{name}"
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["aslib"]
    assert {"notebooks/[0-9][0-9]_*.ipynb", "docs/*.md", "py.typed"} <= set(package_data)
    assert (ROOT / "aslib" / "py.typed").is_file()
    assert resources.notebook_dir().resolve() == (ROOT / "notebooks").resolve()
    assert resources.docs_dir().resolve() == (ROOT / "docs").resolve()
    stored = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert [p.name for p in resources.notebooks()] == [p.name for p in stored]


def test_the_version_is_written_once_and_python_m_aslib_runs_the_cli():
    import aslib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert aslib.__version__ == importlib.metadata.version("aslib") == declared
    assert declared not in (ROOT / "aslib" / "__init__.py").read_text()
    done = subprocess.run([sys.executable, "-m", "aslib", "--version"], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0 and done.stdout.strip() == f"aslib {declared}", done.stderr


def test_binder_installs_the_kit_from_the_checkout_and_fetches_the_data():
    requirements = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    declared = _names(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert _names(r for r in requirements if not r.startswith("#")) <= declared
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    lines = post_build.read_text().splitlines()
    assert 'pip install --no-cache-dir ".[notebooks]"' in lines and "aslib data --fetch" in lines
