"""``ssl-core codes RUN_DIR``: the packed activation codes of a trained NAC run, end to end."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import ssl_core
from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.cli import main
from ssl_core.config import load_config
from ssl_core.eval_context import EvalContext
from ssl_core.pipeline import build_pipeline
from ssl_nac.activation_codes import load_codes

from pipeline_helpers import tiny_pipeline


@pytest.fixture(scope="module")
def nac_run(tmp_path_factory):
    """A NAC run on 359 digits (5 steps of 64), trained once for the module."""
    tmp_path = tmp_path_factory.mktemp("codes")
    path = tiny_pipeline(tmp_path, test_fraction=0.8)
    assert main(["run", str(path), "objective.name=nac", "objective.params.p=0.4"]) == 0
    return tmp_path / "run"


def embeddings(run_dir, split: str):
    """``embed(x)`` of ``split`` through the evaluators' own path (EvalContext), with labels."""
    registry = ssl_core.registry()
    config = load_config(run_dir / "pipeline.yaml", registry=registry)
    pipeline = build_pipeline(config, registry)
    pipeline.objective.load_state_dict(safe_torch_load(run_dir / "model.pt"))
    ctx = EvalContext(encoder=pipeline.encoder, registry=registry, dataset=config.values["data"]["dataset"],
                      dataset_params=config.values["data"]["params"], views=pipeline.views, run_dir=run_dir,
                      objective=pipeline.objective)
    return ctx.features(split, layer="embedding")


def test_codes_of_the_test_split_round_trip(nac_run, capsys):
    capsys.readouterr()
    assert main(["codes", str(nac_run)]) == 0
    out = capsys.readouterr().out
    path = nac_run / "codes_test.npz"
    assert path.is_file() and str(path) in out and "16-bit" in out
    codes = load_codes(path)
    a, labels = embeddings(nac_run, "test")
    assert codes.num_bits == a.shape[1] == 16 and codes.packed.shape == (len(a), 2) and codes.packed.dtype == np.uint8
    assert np.array_equal(codes.bits(), (a > 0).numpy())
    assert np.array_equal(codes.signs(), torch.where(a > 0, 1, -1).numpy())
    assert codes.indices.tolist() == list(range(len(a))) and codes.labels.tolist() == labels.tolist()
    assert len(np.unique(codes.packed, axis=0)) > 1, "a trained encoder gives the digits more than one code"


def test_other_split_and_output_file(nac_run, tmp_path, capsys):
    out = tmp_path / "sub" / "train_codes.npz"
    assert main(["codes", str(nac_run), "--split", "train", "--out", str(out)]) == 0
    codes = load_codes(out)
    a, labels = embeddings(nac_run, "train")
    assert len(codes.indices) == len(a) and len(a) + len(embeddings(nac_run, "test")[0]) == 1797
    assert np.array_equal(codes.bits(), (a > 0).numpy()) and codes.labels.tolist() == labels.tolist()


def test_clear_errors(nac_run, tmp_path, capsys):
    assert main(["codes", str(tmp_path / "absent")]) == 2
    assert "not a run folder: no pipeline.yaml" in capsys.readouterr().err
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(nac_run / "pipeline.yaml", untrained / "pipeline.yaml")
    assert main(["codes", str(untrained)]) == 2
    err = capsys.readouterr().err
    assert f"no trained model at {untrained / 'model.pt'}" in err and "train the run first" in err
    assert main(["codes", str(nac_run), "--split", "val"]) == 2
    assert "split 'val' is not a split of the dataset 'digits'; valid choices: train, test" in capsys.readouterr().err
