"""The papermill-free command line: ASNet fine-tuning (resumable) and attack studies end to end."""
import json

import pytest
import torch
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


@needs("cifar10")
def test_a_torchvision_resnet18_with_random_weights_goes_through_the_cli(tmp_path, capsys):
    import torchvision

    weights = tmp_path / "resnet18.pt"
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), weights)
    model = ["--model", "torchvision:resnet18", "--weights", str(weights), "--dataset", "cifar10", "--threads", "1"]
    assert cli.main(["layer-study", *model, "--images", "64", "--layers", "layer1", "layer4"]) == 0
    out = capsys.readouterr().out
    # auto: the sketch for 4,096 neurons (l = 400, above 8.3 l), the exact Gram matrix for 512
    assert "| layer1 | frequent_directions | 4,096 |" in out and "| layer4 | gram | 512 |" in out
    assert cli.main(["attack-study", *model, "--xis", "10", "--samples", "16", "--repeats", "1",
                     "--test-images", "32"]) == 0
    assert "| 10.000 | as | 1 |" in capsys.readouterr().out
    assert cli.main(["asnet", *model]) == 2  # a clear one-line error: ASNet cuts sequential models
    assert "not an nn.Sequential: ASNet cuts sequential models" in capsys.readouterr().err


@needs("fashion_mnist")
def test_a_kit_checkpoint_path_is_a_model_too(tmp_path, capsys):
    from aslib import zoo

    path = tmp_path / "mine.pt"
    zoo.save_checkpoint(zoo.pretrained("lenet_fashion_mnist"), {**zoo.entry("lenet_fashion_mnist")}, path)
    assert cli.main(["layer-study", "--model", str(path), "--images", "64", "--layers", "fc1", "--threads", "1"]) == 0
    assert "| fc1 | gram | 500 |" in capsys.readouterr().out


def test_a_state_dict_that_does_not_fit_gets_a_clear_error(tmp_path, capsys):
    import torchvision

    weights = tmp_path / "resnet34.pt"
    torch.save(torchvision.models.resnet18(num_classes=100).state_dict(), weights)
    args = ["layer-study", "--model", "torchvision:resnet18", "--weights", str(weights), "--dataset", "cifar10"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "not a state dict of torchvision resnet18 with 10 classes" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args, message", [
    (["asnet", "--model", "no_such_model"], "no_such_model"),
    (["layer-study", "--model", "torchvision:resnet18"], "needs its dataset"),
    (["layer-study", "--model", "torchvision:no_such_net", "--dataset", "cifar10"], "not a torchvision model"),
    (["attack-study", "--model", "lenet_fashion_mnist", "--repeats", "0", "--xis", "3"], "repeats"),
])
def test_user_errors_print_one_line_and_exit_with_status_2(args, message, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
