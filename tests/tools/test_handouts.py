"""The nbgrader version of the notebooks: nbgrader accepts its metadata, generates a release without solutions,
and autogrades a stub to zero and the instructor's solutions to full points."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aslib.tools.handouts import PROSE_SOLUTION, SOLUTION_TAG, nbgrader_notebook

pytest.importorskip("nbgrader", reason="nbgrader is part of the test extra: pip install -e '.[test]'")
from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.nbgraderformat import MetadataValidator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_exports_valid_nbgrader_metadata(path, tmp_path):
    import nbformat

    counts = nbgrader_notebook(path, tmp_path / path.name, preset="smoke")
    cells = json.loads(path.read_text())["cells"]
    assert counts["autograded"] == sum(SOLUTION_TAG in c.get("metadata", {}).get("tags", []) for c in cells) >= 1
    assert counts["manual"] == sum(bool(PROSE_SOLUTION.search("".join(c["source"]))) for c in cells) >= 1
    exported = nbformat.read(tmp_path / path.name, as_version=4)
    MetadataValidator().validate_nb(exported)  # raises nbgrader's ValidationError on bad metadata
    assert any('preset = "smoke"' in c.source for c in exported.cells if "parameters" in c.metadata.get("tags", []))


def _nbgrader(course: Path, *args: str) -> None:
    # nbgrader runs its database migrations with the `alembic` command: put this environment's scripts on PATH
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course, capture_output=True,
                            text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_nbgrader_generates_the_release_and_autogrades_a_stub_to_zero_and_the_solution_to_full_points(tmp_path):
    """All seven notebooks' exercises and answers as the notebooks of one nbgrader assignment (each notebook keeps
    only its nbgrader cells, after a setup cell with the imports the solutions use, so grading takes seconds)."""
    course = tmp_path / "course"
    exercises = 0
    for path in NOTEBOOKS:
        source = course / "source" / "ps1" / path.name
        nbgrader_notebook(path, source)
        notebook = json.loads(source.read_text())
        setup = {"cell_type": "code", "id": "setup", "metadata": {}, "execution_count": None, "outputs": [],
                 "source": ["import math\n", "import torch\n", "import aslib.teach.exercises\n",
                            "import aslib.nets.gradients\n", "from aslib.linalg import pce\n"]}
        notebook["cells"] = [setup] + [c for c in notebook["cells"] if "nbgrader" in c["metadata"]]
        exercises += sum(SOLUTION_TAG in c["metadata"].get("tags", []) for c in notebook["cells"])
        source.write_text(json.dumps(notebook))
    (course / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
                                                 "c.CourseDirectory.course_id = 'aslib'\n"
                                                 "c.ExecutePreprocessor.timeout = 600\n")  # a busy machine is slow
    _nbgrader(course, "generate_assignment", "ps1", "--create")
    release = {path.name: (course / "release" / "ps1" / path.name).read_text() for path in NOTEBOOKS}
    assert all("raise NotImplementedError" in text and "<details>" not in text for text in release.values())
    attack = release["06_universal_attacks.ipynb"]
    assert "torch.linalg.svd" not in attack and "def my_as_attack" in attack  # the body is gone, the signature stays
    for student, folder in (("stub", course / "release" / "ps1"), ("solution", course / "source" / "ps1")):
        target = course / "submitted" / student / "ps1"
        target.mkdir(parents=True)
        for path in NOTEBOOKS:
            shutil.copy(folder / path.name, target / path.name)
    _nbgrader(course, "autograde", "ps1", "--create")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: gradebook.find_submission("ps1", s).code_score for s in ("stub", "solution")}
        maximum = gradebook.find_assignment("ps1").max_code_score
    assert exercises >= 2 * len(NOTEBOOKS) and maximum == exercises and scores == {"stub": 0, "solution": exercises}


def test_the_student_quizzes_keep_every_question_and_withhold_every_answer(tmp_path):
    from aslib.tools.handouts import PROSE_PLACEHOLDER, student_page

    source = ROOT / "docs" / "quizzes.md"
    answers = len(PROSE_SOLUTION.findall(source.read_text()))
    assert answers >= 10 and student_page(source, tmp_path / "quizzes.md") == answers
    student = (tmp_path / "quizzes.md").read_text()
    assert "<details>" not in student and student.count(PROSE_PLACEHOLDER) == answers
    questions = [line for line in source.read_text().splitlines() if line[:3] in {f"{k}. " for k in range(1, 10)}]
    assert questions and all(q in student for q in questions)
