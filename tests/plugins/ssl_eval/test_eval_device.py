"""Every evaluator computes on the context's device: its inputs, features and models are moved there.

The machine running CI has no GPU, so the moves are recorded (``Tensor.to``
and ``Module.to`` with a device) while each evaluator runs on the CPU given
as an explicit device; an evaluator that left its features or its probe where
they were would record no move and fail. ``test_gpu_smoke`` runs the whole
thing on CUDA where CUDA is present.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from ssl_core.devices import eval_workers, resolve_device
from ssl_core.errors import DeviceError
from ssl_eval.code_statistics import CodeStatistics
from ssl_eval.hash_retrieval import HashRetrieval
from ssl_eval.knn import KNN
from ssl_eval.linear_probe import LinearProbe
from ssl_eval.transfer import Transfer
from ssl_eval.vae import GaussianDecoder, VAEEncoder, VAEPretraining

from eval_fixtures import LinearEncoder, blobs_context
from pipeline_helpers import tiny_pipeline

DEVICE = torch.device("cpu")


class Embedder(nn.Module):
    """An objective around the blobs encoder: ``embed`` is its output shifted (codes of both signs)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def embed(self, x):
        return self.encoder(x) - 0.5


@pytest.fixture
def moves(monkeypatch):
    """Every ``.to(device)`` during the test: ``[(kind, shape or class name, device)]``."""
    log = []
    tensor_to, module_to = torch.Tensor.to, nn.Module.to

    def target(args, kwargs):
        dev = kwargs.get("device", args[0] if args and isinstance(args[0], (str, torch.device)) else None)
        return None if dev is None else torch.device(dev)

    def record_tensor(self, *args, **kwargs):
        if (dev := target(args, kwargs)) is not None:
            log.append(("tensor", tuple(self.shape), dev))
        return tensor_to(self, *args, **kwargs)

    def record_module(self, *args, **kwargs):
        if (dev := target(args, kwargs)) is not None:
            log.append(("module", type(self).__name__, dev))
        return module_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", record_tensor)
    monkeypatch.setattr(nn.Module, "to", record_module)
    return log


def context(tmp_path):
    ctx = blobs_context(tmp_path)
    ctx.objective = Embedder(ctx.encoder)
    ctx.device = DEVICE
    return ctx


def moved(log, kind, what):
    return [entry for entry in log if entry[0] == kind and entry[1] == what and entry[2] == DEVICE]


def test_knn_scores_on_the_device(tmp_path, moves):
    KNN(k=5).evaluate(context(tmp_path))
    assert moved(moves, "tensor", (64, 2))  # encoder inputs, batch by batch
    assert moved(moves, "tensor", (200, 8)) and len(moved(moves, "tensor", (200,))) >= 2  # features, labels


def test_linear_probe_trains_on_the_device(tmp_path, moves):
    LinearProbe(epochs=2, lrs=[0.1]).evaluate(context(tmp_path))
    assert len(moved(moves, "module", "Linear")) == 2  # one probe per lr searched, and the final one
    assert moved(moves, "tensor", (200, 8)) and moved(moves, "tensor", (20,)) and moved(moves, "tensor", (180,))


def test_linear_probe_with_augmented_views_on_the_device(tmp_path, moves):
    LinearProbe(epochs=1, lrs=[0.1], augment=True).evaluate(context(tmp_path))
    assert len(moved(moves, "tensor", (180, 8))) >= 1  # re-encoded features of each epoch


def test_transfer_probes_on_the_device(tmp_path, moves):
    Transfer(suite="blobs_suite", layer="pooled", epochs=1, lrs=[0.1]).evaluate(context(tmp_path))
    assert moved(moves, "module", "Linear") and moved(moves, "tensor", (100, 8))


def test_vae_trains_on_the_device(tmp_path, moves):
    VAEPretraining(latent_dim=2, hidden=8, epochs=1, k=2, batch_size=64).evaluate(context(tmp_path))
    assert len(moved(moves, "module", "VAEEncoder")) == 2 and len(moved(moves, "module", "GaussianDecoder")) == 2
    assert len(moved(moves, "tensor", (200, 2))) == 2  # the train and test inputs
    assert moved(moves, "module", "LinearEncoder")  # the random-init backbone


def test_hash_codes_and_code_statistics_on_the_device(tmp_path, moves):
    ctx = context(tmp_path)
    HashRetrieval(protocol="random", num_queries=20, num_train=0, plot=False).evaluate(ctx)
    # every batch of the pool, train (200) and test (200), through embed: 3 of 64 and one of 8 each
    assert len(moved(moves, "tensor", (64, 2))) == 6 and len(moved(moves, "tensor", (8, 2))) == 2
    moves.clear()
    CodeStatistics(layers=("encoder.linear",)).evaluate(context(tmp_path))
    assert moved(moves, "tensor", (64, 2))


def test_device_resolution_and_worker_defaults():
    assert resolve_device(None, "cpu") == torch.device("cpu")
    assert resolve_device("cpu", "gpu") == torch.device("cpu")  # an explicit eval_options.device wins
    assert eval_workers(None, torch.device("cpu")) == 0 and eval_workers(3, torch.device("cpu")) == 3
    assert eval_workers(None, torch.device("cuda")) >= 1
    if not torch.cuda.is_available():
        assert resolve_device(None, "auto") == torch.device("cpu")
        with pytest.raises(DeviceError, match="CUDA is not available here; set eval_options.device=cpu"):
            resolve_device("cuda", "auto")
        with pytest.raises(DeviceError, match="train.accelerator=cpu"):
            resolve_device(None, "gpu")


def test_results_record_the_device(tmp_path):
    from ssl_core.cli import main

    path = tiny_pipeline(tmp_path, extra="evaluate: [{name: knn, params: {k: 5}}]\neval_options: {device: cpu}\n")
    assert main(["run", str(path), "train.max_steps=2", "train.precision=bf16-mixed"]) == 0  # mixed precision trains
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["evaluation_device"]["device"] == "cpu" and results["evaluation_device"]["name"]
    assert results["evaluation_device"]["precision"].startswith("32-true")
    assert results["training_precision"] == "bf16-mixed"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (runs where one is present)")
def test_gpu_smoke(tmp_path):
    from ssl_core.cli import main

    path = tiny_pipeline(tmp_path, extra="evaluate: [{name: knn, params: {k: 5}}, {name: linear_probe, params: "
                                         "{epochs: 2, lrs: [0.1]}}]\n")
    assert main(["run", str(path), "train.max_steps=2", "train.accelerator=gpu", "train.precision=bf16-mixed"]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["evaluation_device"]["device"].startswith("cuda")
    import ssl_core

    trained = ssl_core.load_run(tmp_path / "run")
    assert next(trained.encoder.parameters()).device.type == "cuda"
