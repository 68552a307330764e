"""The report: claims recorded by notebooks become claims.json and the claims table; stamps see the whole package."""
import json
import os
from pathlib import Path

import pytest
import torch

from aslib.teach import claims as claims_table
from aslib.teach import recording
from aslib.tools import report


def test_claims_are_collected_in_order_and_rendered(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("ASLIB_RESULTS", str(results))
    recording.record_claim("06_x", "attack_gap_cifar10_allclass_xi10", measured=0.12, preset="smoke", n=10,
                        ci95=(0.05, 0.19), source="shipped, evaluated live", note="VGG | 2,000 images")
    recording.record_claim("02_x", "pretrained_accuracy_vgg", measured=0.87, preset="smoke", n=2000)
    with pytest.raises(ValueError, match="unknown claim"):
        recording.record_claim("02_x", "made_up", measured=1.0, preset="smoke")
    path = report.write_report(tmp_path, [])
    claims = json.loads((tmp_path / "claims.json").read_text())
    assert [c["id"] for c in claims] == list(claims_table.CLAIMS)
    gap = claims[0]
    assert gap["measured"] == 0.12 and gap["ci95"] == [0.05, 0.19] and gap["n"] == 10 and gap["preset"] == "smoke"
    missing = next(c for c in claims if c["id"] == "asnet_macs_reduction")
    assert missing["measured"] is None and missing["source"] == "not measured in this run"
    text = path.read_text()
    assert "| 0.12 | [0.050, 0.190] | 10 | shipped, evaluated live | smoke | VGG / 2,000 images |" in text
    assert "0.87" in text
    platform = json.loads((tmp_path / "platform.json").read_text())
    assert platform["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert f"threads {platform['threads']}" in text


def test_stamp_changes_with_any_module_of_the_package(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    assert report._stamp(notebook, "smoke") == report._stamp(notebook, "smoke")
    assert report._stamp(notebook, "smoke") != report._stamp(notebook, "default")


def test_notebook_table_reads_each_presets_stamps_and_write_notebook_table_rewrites_only_its_block(tmp_path):
    from aslib.tools.report import notebook_table, write_notebook_table
    from aslib.teach.resources import notebooks

    notebooks = notebooks()[:2]
    smoke, default = tmp_path / "smoke", tmp_path / "default"
    for folder, preset, seconds, busy in ((smoke, "smoke", (3.2, 4.6), (0.1, 1.3)),
                                          (default, "default", (10.0, 20.4), (None, 0.0))):
        folder.mkdir()
        for nb, s, b in zip(notebooks, seconds, busy):
            (folder / f"{nb.stem}.stamp.json").write_text(json.dumps({"preset": preset, "seconds": s, "cpus": 2,
                                                                      **({} if b is None else {"other_cores": b})}))
    (default / f"{notebooks[1].stem}.stamp.json").write_text(json.dumps({"preset": "paper", "seconds": 9.0}))
    table = notebook_table({"smoke": smoke, "default": default}, notebooks).splitlines()
    assert table[0] == "| notebook | what it teaches | smoke (s) | default (s) |"
    # 1.3 other cores: busy (*); no load recorded: ?; a stamp of another preset: no time
    assert table[2].endswith("| 3 | 10? |") and table[3].endswith("| 5* | - |")
    assert table[4] == "| all | | 8 | - |" and table[-1].startswith("Measured on 2 CPU cores.")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- notebook-table:start -->\nold\n<!-- notebook-table:end -->\nrest\n")
    write_notebook_table(readme, {"smoke": smoke})
    text = readme.read_text()
    assert text.startswith("intro\n<!-- notebook-table:start -->\n| notebook") and text.endswith("-->\nrest\n")
    assert "old" not in text
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="notebook-table"):
        write_notebook_table(readme, {"smoke": smoke})


def test_notebooks_run_in_the_output_folder(tmp_path, monkeypatch):
    """A notebook's relative paths (notebook 05's paper-preset checkpoints) land in the report folder, never in
    the package's own folder (site-packages for an installed kit)."""
    import papermill

    from aslib.teach.resources import notebooks

    seen = []

    def fake_execute(source, target, cwd, **options):
        seen.append((cwd, os.environ["ASLIB_RESULTS"]))
        Path(target).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setenv("ASLIB_RESULTS", "the caller's")
    rows = report.execute(notebooks(only=["01"]), tmp_path / "rep", "smoke")
    assert seen == [(str((tmp_path / "rep").resolve()), str((tmp_path / "rep" / "results").resolve()))]
    assert rows[0]["notebook"].startswith("01_") and os.environ["ASLIB_RESULTS"] == "the caller's"

    def failing(source, target, cwd, **options):
        raise RuntimeError("a cell failed")

    monkeypatch.setattr(papermill, "execute_notebook", failing)
    monkeypatch.delenv("ASLIB_RESULTS")
    with pytest.raises(RuntimeError, match="a cell failed"):
        report.execute(notebooks(only=["02"]), tmp_path / "rep", "smoke", force=True)
    assert "ASLIB_RESULTS" not in os.environ  # unset before, unset after a failure
    with pytest.raises(ValueError, match="notebooks is empty"):
        report.run_report(tmp_path / "rep", "smoke", notebooks=[])
