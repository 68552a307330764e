"""The README's quick-start commands run as written (from the repository root, in a scratch copy of the outputs)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs

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
