"""The papermill-free command line: ASNet fine-tuning (resumable) and attack studies end to end."""
import json

import pytest
from conftest import needs

from aslib import cli


@needs("fashion_mnist")
def test_asnet_command_builds_finetunes_and_resumes(tmp_path, capsys):
    args = ["asnet", "--model", "lenet_fashion_mnist", "--layer", "conv2", "--rank", "4", "--degree", "2",
            "--images", "300", "--test-images", "300", "--kd-epochs", "1", "--sparse-epochs", "1",
            "--batch-size", "50", "--max-batches", "2", "--threads", "1", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    history = json.loads((tmp_path / "history.json").read_text())
    assert [(r["phase"], r["epoch"]) for r in history] == [("start", 0), ("distill", 1), ("sparse", 1)]
    assert (tmp_path / "asnet_finetune.pt").exists()
    out = capsys.readouterr().out
    assert "r=4, p=2, 15 PCE terms" in out and "reduction:" in out
    assert cli.main(args) == 0, "a rerun must resume from the checkpoint"
    assert json.loads((tmp_path / "history.json").read_text()) == history


@needs("fashion_mnist")
def test_attack_study_command_writes_rows(tmp_path):
    out = tmp_path / "rows.json"
    assert cli.main(["attack-study", "--model", "lenet_fashion_mnist", "--xis", "4", "--samples", "20",
                     "--test-images", "100", "--repeats", "1", "--threads", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert sorted(r["method"] for r in rows) == ["as", "random", "sgd_uap", "uap"]
    assert all(0.0 <= r["test_attack_ratio"] <= 1.0 for r in rows)


@needs("fashion_mnist")
def test_attack_study_ship_crafts_into_the_store_and_records_the_command(tmp_path, monkeypatch, capsys):
    from aslib import vectors

    monkeypatch.setattr(vectors, "STORE", tmp_path)
    args = ["attack-study", "--model", "lenet_fashion_mnist", "--ship", "--experiment", "oneclass", "--xis", "3",
            "--repeats", "2", "--methods", "sgd_uap", "random", "--threads", "1"]
    assert cli.main(args) == 0
    manifest = json.loads((tmp_path / "vectors.json").read_text())
    assert manifest["commands"] == ["python -m aslib.cli " + " ".join(args)]
    assert len(manifest["records"]) == 4 and (tmp_path / "vectors_lenet_fashion_mnist.pt").exists()
    assert "| 3.000 | sgd_uap | 2 |" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["asnet", "--model", "no_such_model"], "no_such_model"),
    (["attack-study", "--model", "lenet_fashion_mnist", "--repeats", "0", "--xis", "3"], "repeats"),
])
def test_user_errors_print_one_line_and_exit_with_status_2(args, message, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
