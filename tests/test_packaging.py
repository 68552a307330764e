import json
import re
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
