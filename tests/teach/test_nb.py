"""The notebooks' shared set-up and show-and-record helpers."""
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from aslib.teach import nb  # noqa: E402


def test_start_chooses_the_preset_and_falls_back_to_a_shipped_model(capsys):
    with pytest.warns(UserWarning, match="not in the zoo"):
        book = nb.start("x", "smoke", {"n": 3}, smoke={"model": "no_such_net", "n": 1}, default={"model": None, "n": 2})
    assert book.cfg.model == nb.FALLBACK_MODEL and book.cfg.n == 3
    assert "preset 'smoke'" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown parameter"):
        nb.start("x", "smoke", {"m": 1}, smoke={"n": 1})
    with pytest.raises(ValueError, match="unknown preset"):
        nb.start("x", "fast", None, smoke={"n": 1})


def test_table_figure_and_value_are_recorded_for_the_report(tmp_path, monkeypatch):
    monkeypatch.setenv("ASLIB_RESULTS", str(tmp_path))
    book = nb.start("07_test", "smoke", None, smoke={"n": 1})
    assert book.table([{"a": 1.5, "b": 2}], key="t", caption="Caption.", digits=1) is None
    assert (tmp_path / "07_test" / "t.md").read_text() == "Caption.\n\n| a | b |\n|---|---|\n| 1.5 | 2 |\n"
    book.value("claim", "AS 0.42")
    assert json.loads((tmp_path / "07_test" / "claim.json").read_text()) == "AS 0.42"
    fig, _ = plt.subplots()
    book.figure(fig, key="f")
    assert (tmp_path / "07_test" / "f.png").stat().st_size > 0
    with pytest.raises(ValueError, match="table is empty"):
        book.table([])


def test_nothing_is_recorded_outside_the_report(tmp_path, monkeypatch):
    monkeypatch.delenv("ASLIB_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    nb.start("x", "smoke", None, smoke={}).table([{"a": 1}], key="t")
    assert list(tmp_path.iterdir()) == []


def test_claim_prints_and_records_with_the_preset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASLIB_RESULTS", str(tmp_path))
    book = nb.start("06_test", "smoke", None, smoke={"n": 1})
    book.claim("attack_gap_fmnist_allclass_xi10", 0.25, n=10, ci95=(0.2, 0.3), source="shipped, evaluated live")
    assert "attack_gap_fmnist_allclass_xi10: 0.25 (paper: about +0.20; n = 10, 95 % CI [0.200, 0.300]" in \
        capsys.readouterr().out
    saved = json.loads((tmp_path / "06_test" / "claims" / "attack_gap_fmnist_allclass_xi10.json").read_text())
    assert saved["preset"] == "smoke" and saved["ci95"] == [0.2, 0.3]
