"""A non-finite loss or non-finite weights stop the run with the step and an intact, resumable checkpoint."""

from __future__ import annotations

import pytest
import torch

from ssl_contrastive.simclr import SimCLR
from ssl_core import hookimpl, make_registry
from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.config import load_config
from ssl_core.plots import read_metrics
from ssl_core.run import train
from ssl_core.trainer import DivergenceError

from pipeline_helpers import tiny_pipeline


class FaultySimCLR(SimCLR):
    """SimCLR whose loss (``fault: loss``) or gradient (``fault: grad``) turns NaN at training step ``at_step``.

    The count of steps is a persistent buffer, so it is saved in checkpoints
    and a resumed run counts on from there. The fault fires only while the
    class attribute ``armed`` is true: clearing it stands for fixing the cause
    (bad data, say) before resuming the very same pipeline.
    """

    armed = False

    def __init__(self, at_step: int = -1, fault: str = "loss", temperature: float = 0.5, out_dim: int = 128,
                 hidden_dim: int = 512, encoder=None, source=None, selector=None):
        super().__init__(temperature, out_dim, hidden_dim, encoder, source, selector)
        self.at_step, self.fault = at_step, fault
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def step(self, views, index):
        loss, metrics = super().step(views, index)
        if FaultySimCLR.armed and int(self.steps) == self.at_step:
            if self.fault == "loss":
                loss = loss * float("nan")
            else:  # finite loss, NaN gradient: d sqrt(x)/dx at 0 is inf, times 0
                zero = next(self.head.parameters()).sum() * 0
                loss = loss + 0.0 * torch.sqrt(zero)
        self.steps += 1
        return loss, metrics


class FaultyPlugin:
    @hookimpl
    def ssl_core_objectives(self):
        return {"faulty_simclr": FaultySimCLR}


@pytest.fixture(scope="module")
def registry():
    return make_registry(plugins=[FaultyPlugin()], autoload=False, warn=False)


@pytest.fixture(autouse=True)
def one_thread_disarmed():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    FaultySimCLR.armed = False
    yield
    FaultySimCLR.armed = False
    torch.set_num_threads(threads)


def faulty_pipeline(tmp_path, output, every, at_step, fault):
    path = tiny_pipeline(tmp_path, epochs=1, every=every, output=output, test_fraction=0.6)
    path.write_text(path.read_text().replace("name: simclr\n  params: {", f"name: faulty_simclr\n  params: {{at_step: {at_step}, fault: {fault}, "))
    return path


def all_finite(state_dict: dict) -> bool:
    return all(torch.isfinite(v).all() for v in state_dict.values() if v.is_floating_point())


def assert_same_weights(a, b):
    a, b = safe_torch_load(a / "model.pt"), safe_torch_load(b / "model.pt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


MAX_STEPS = ["train.max_steps=8"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory, registry):
    """The same pipeline without a fault, uninterrupted."""
    tmp_path = tmp_path_factory.mktemp("straight")
    torch.set_num_threads(1)
    config = load_config(faulty_pipeline(tmp_path, "straight", 2, 5, "loss"), MAX_STEPS, registry=registry)
    return train(config, registry)


@pytest.mark.parametrize("fault, at_step, checkpoint_step", [
    ("loss", 5, 4),  # the loss of step 5 is NaN: the checkpoint written after step 3 (global step 4) is the last
    ("grad", 3, 3),  # step 3's loss is finite but its update makes the weights NaN: global step 4 is never written
])
def test_divergence_names_step_and_intact_checkpoint_which_resumes_exactly(tmp_path, registry, straight, fault, at_step,
                                                                            checkpoint_step):
    every = 2 if fault == "loss" else 1
    path = faulty_pipeline(tmp_path, "diverged", every, 5 if fault == "loss" else at_step, fault)
    config = load_config(path, MAX_STEPS, registry=registry)
    run = tmp_path / "diverged"
    checkpoint = run / "checkpoints" / "last.ckpt"
    FaultySimCLR.armed = True
    with pytest.raises(DivergenceError) as err:
        train(config, registry)
    message = str(err.value)
    assert f"at step {at_step}" in message, message
    assert str(checkpoint) in message and f"step {checkpoint_step}" in message, message
    assert not (run / "model.pt").exists()

    state = safe_torch_load(checkpoint)  # loads with weights_only=True
    assert state["global_step"] == checkpoint_step
    assert all_finite(state["state_dict"]) and int(state["state_dict"]["objective.steps"]) == checkpoint_step

    FaultySimCLR.armed = False  # the cause is fixed; the same pipeline resumes from the checkpoint
    train(config, registry, resume=True)
    # disarmed, the fault's parameters and the checkpoint interval change nothing: the straight run's results
    assert_same_weights(straight, run)
    assert read_metrics(run)["loss"] == read_metrics(straight)["loss"]


def test_huge_learning_rate_diverges_with_a_clear_error(tmp_path, registry):
    """A real divergence, no plugin: the largest lr and weight decay allowed blow up the weights at once.

    Batch norm keeps the loss finite while a running variance overflows: the
    weights check refuses to write them as a checkpoint (without it, step 2's
    checkpoint would hold infinities and the later NaN loss would call it good).
    """
    config = load_config(tiny_pipeline(tmp_path, epochs=1, every=1, output="huge", test_fraction=0.6),
                         ["train.optimizer.name=sgd", "train.optimizer.lr=1.0e+6", "train.optimizer.weight_decay=1000.0",
                          "train.schedule.name=constant"], registry=registry)
    with pytest.raises(DivergenceError) as err:
        train(config, registry)
    message = str(err.value)
    checkpoint = tmp_path / "huge" / "checkpoints" / "last.ckpt"
    assert "non-finite" in message and "at step 1" in message and "train.optimizer.lr" in message, message
    assert f"{checkpoint} (step 1)" in message, message
    state = safe_torch_load(checkpoint)
    assert state["global_step"] == 1 and all_finite(state["state_dict"])
