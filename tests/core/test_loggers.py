"""train.logger: csv by default, a list allowed, and a clear error naming the package when one is missing."""

from __future__ import annotations

import importlib.util

import pytest

from ssl_core.cli import main
from ssl_core.loggers import LOGGERS, build_loggers, check_loggers

from pipeline_helpers import tiny_pipeline


@pytest.mark.parametrize("name,package", [("tensorboard", "tensorboard"), ("wandb", "wandb"), ("mlflow", "mlflow")])
def test_a_missing_package_is_named_with_its_install_command(name, package, monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == package else real(m, *a))
    assert check_loggers(["csv", name]) == (f"the {name} logger needs the package '{package}', which is not "
                                           f"installed: pip install {package} (or remove '{name}' from train.logger)")
    assert main(["validate", str(tiny_pipeline(tmp_path)), f"train.logger=[csv, {name}]"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pip install {package}" in err and "Traceback" not in err


def test_names_are_checked():
    assert check_loggers("csv") is None and check_loggers(["csv"]) is None and check_loggers([]) is None
    assert check_loggers("tensorbord") == "unknown logger 'tensorbord'; valid choices: csv, tensorboard, wandb, mlflow"
    assert "twice" in check_loggers(["csv", "csv"])
    assert set(LOGGERS) == {"csv", "tensorboard", "wandb", "mlflow"}


def test_csv_is_the_default_and_follows_the_setting(tmp_path):
    path = tiny_pipeline(tmp_path)
    assert main(["run", str(path), "train.max_steps=2"]) == 0
    assert (tmp_path / "run/logs/part0/metrics.csv").is_file()
    assert not list((tmp_path / "run/logs").glob("tensorboard*"))  # only what train.logger asks for
    assert main(["run", str(path), "train.max_steps=2", "train.logger=[]", f"output={tmp_path / 'quiet'}"]) == 0
    assert not (tmp_path / "quiet/logs").exists() and (tmp_path / "quiet/model.pt").is_file()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_tensorboard_writes_event_files(tmp_path):
    from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

    loggers = build_loggers(["csv", "tensorboard"], tmp_path, 0, "tiny")
    assert [type(x) for x in loggers] == [CSVLogger, TensorBoardLogger]
    path = tiny_pipeline(tmp_path)
    assert main(["run", str(path), "train.max_steps=2", "train.logger=[csv, tensorboard]"]) == 0
    assert list((tmp_path / "run/logs/tensorboard0").glob("events.out.tfevents.*"))
