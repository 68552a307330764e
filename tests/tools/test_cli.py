"""The papermill-free command line: ASNet fine-tuning (resumable) and attack studies end to end."""
import json

import pytest
import torch
from conftest import needs

from aslib import attacks, cli


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
    assert sorted(r["method"] for r in rows) == sorted(attacks.METHODS)
    assert all(0.0 <= r["test_attack_ratio"] <= 1.0 for r in rows)


@needs("fashion_mnist")
def test_attack_study_ship_crafts_into_the_store_and_records_the_command(tmp_path, monkeypatch, capsys):
    from aslib.store import vectors

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
    from aslib.store import zoo

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


def test_version_and_the_program_name(capsys):
    import aslib

    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"aslib {aslib.__version__}"
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert capsys.readouterr().out.startswith("usage: aslib ")


def test_data_reports_what_the_data_root_holds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASLIB_DATA", str(tmp_path))
    (tmp_path / "cifar10_jpeg.npz").write_bytes(b"x")
    (tmp_path / "FashionMNIST" / "raw").mkdir(parents=True)
    (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"x")
    assert cli.main(["data"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"data root: {tmp_path} (from $ASLIB_DATA")
    assert "| cifar10 | archive | cifar10_jpeg.npz |" in out
    assert "| fashion_mnist | torchvision | FashionMNIST/raw/ |" in out
    assert "| mnist | missing | expected mnist.npz or MNIST/raw/ |" in out
    assert "`aslib data --fetch cifar100 mnist` downloads them" in out


def test_data_fetch_offline_says_which_files_to_put_where(tmp_path, monkeypatch, capsys):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):  # what urllib raises without a network; nothing here touches one
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("ASLIB_DATA", str(tmp_path))
    # CIFAR-10: torchvision lets the URLError out; Fashion-MNIST: its mirrors' errors become a RuntimeError
    for names in (["cifar10", "fashion_mnist"], ["fashion_mnist"]):
        assert cli.main(["data", "--fetch", *names]) == 2
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err + captured.out
        assert err.startswith(f"aslib data: error: could not download {names[0]} (")
        assert f"data root {tmp_path}" in err and "fashion_mnist.npz or FashionMNIST/raw/ for fashion_mnist" in err
        assert ("cifar10_jpeg.npz or cifar-10-batches-py/ for cifar10" in err) == ("cifar10" in names)
    assert cli.main(["data", "--fetch", "cifar10_lossless"]) == 2
    assert "not downloadable" in capsys.readouterr().err


def test_data_fetch_skips_what_is_there(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASLIB_DATA", str(tmp_path))
    (tmp_path / "mnist.npz").write_bytes(b"x")
    assert cli.main(["data", "--fetch", "mnist"]) == 0
    assert capsys.readouterr().out.startswith(f"mnist: already in {tmp_path}\n")


def test_report_only_and_student_use_the_shipped_notebooks(tmp_path, monkeypatch, capsys):
    from aslib.tools import report
    from aslib.teach import resources

    shipped = resources.notebooks()
    assert [nb.name[:2] for nb in shipped] == [f"{i:02d}" for i in range(1, len(shipped) + 1)]
    assert resources.notebooks(only=["01", "3"]) == [shipped[0], shipped[2]]
    ran = {}
    monkeypatch.setattr(report, "run_report", lambda out, preset, force, notebooks: ran.update(notebooks=notebooks))
    assert cli.main(["report", "--preset", "smoke", "--only", "01", "--out", str(tmp_path / "rep")]) == 0
    assert ran["notebooks"] == [shipped[0]]
    assert cli.main(["report", "--only", "99"]) == 2
    assert "no notebook starts with 99" in capsys.readouterr().err
    assert cli.main(["report", "--notebooks", str(tmp_path)]) == 2
    assert "no notebooks [0-9][0-9]_*.ipynb in" in capsys.readouterr().err
    assert cli.main(["student", "--out", str(tmp_path / "student")]) == 0
    assert sorted(p.name for p in (tmp_path / "student").iterdir()) == [nb.name for nb in shipped] + ["quizzes.md"]
    assert cli.main(["student", "--nbgrader", "--out", str(tmp_path / "course")]) == 0
    assert sorted(p.name for p in (tmp_path / "course" / "source").iterdir()) == [nb.stem for nb in shipped]
