"""ssl_core.devices: the evaluation device (eval_options.device, else the training's), workers and loader options.

No GPU is needed: where CUDA is asked for, ``torch.cuda.is_available`` and ``device_count`` are replaced
(``torch.device("cuda:1")`` itself touches no GPU).
"""

from __future__ import annotations

import platform

import pytest
import torch

from ssl_core.devices import (check_device_name, describe_device, device_index, eval_workers, loader_defaults,
                              resolve_device)
from ssl_core.errors import DeviceError


@pytest.fixture
def two_gpus(monkeypatch):
    """A machine with two CUDA devices, as far as resolve_device can tell (no MPS)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize("name", ["cpu", "cuda", "cuda:0", "cuda:12", "mps", "meta"])
def test_device_names_accepted(name):
    assert check_device_name(name) is None


@pytest.mark.parametrize("name", ["gpu", "gpu0", "cuda:", "cuda:x", "CPU", "cuda:0 ", "cuda:-1", ""])
def test_device_names_refused_say_what_is_allowed(name):
    message = check_device_name(name)
    assert message == (f"'{name}' is not a device; use cpu, cuda, cuda:<index> or mps "
                       f"(or null: the training's device)")


@pytest.mark.parametrize("devices, index", [
    ([1], 1), ([0], 0), ((3,), 3), ("1,", 1), ("2, ", 2), (" 0 ,", 0),  # one index
    (1, None), (2, None), ("1", None), ("auto", None), (-1, None), ("-1", None),  # a count, or every device
    ([0, 1], None), ("0,1", None), ([], None), ("", None), (",", None),  # several, or none
    ([True], None), (["1"], None), ([-1], None), ("a,", None), (None, None),  # not an index
])
def test_device_index_is_the_one_index_train_devices_names(devices, index):
    assert device_index(devices) == index


@pytest.mark.parametrize("accelerator", ["gpu", "cuda"])
def test_a_run_trained_on_gpu_1_evaluates_on_gpu_1(two_gpus, accelerator):
    assert resolve_device(None, accelerator, [1]) == torch.device("cuda:1")
    assert resolve_device(None, accelerator, "1,") == torch.device("cuda:1")  # the schema's form of [1]
    assert str(resolve_device(None, accelerator, [1])) == "cuda:1"


def test_auto_on_a_cuda_machine_takes_the_index_too(two_gpus):
    assert resolve_device(None, "auto", [1]) == torch.device("cuda:1")
    assert resolve_device(None, "auto", 1) == torch.device("cuda")


@pytest.mark.parametrize("devices", [None, 1, 2, "1", "auto", -1, [0, 1], "0,1"])
def test_without_one_index_the_current_gpu_as_before(two_gpus, devices):
    assert resolve_device(None, "gpu", devices) == torch.device("cuda")


def test_an_explicit_device_wins_over_the_training(two_gpus):
    assert resolve_device("cuda:0", "gpu", [1]) == torch.device("cuda:0")
    assert resolve_device("cpu", "gpu", [1]) == torch.device("cpu")


def test_the_cpu_accelerator_ignores_devices(two_gpus):
    assert resolve_device(None, "cpu", [1]) == torch.device("cpu")


def test_an_index_beyond_the_machine_names_where_it_came_from(two_gpus):
    with pytest.raises(DeviceError, match=r"device 'cuda:5' \(train.accelerator: gpu, train.devices: \[5\]\): "
                                          r"only 2 CUDA device\(s\) here; set eval_options.device"):
        resolve_device(None, "gpu", [5])
    with pytest.raises(DeviceError, match=r"device 'cuda:2' \(eval_options.device\): only 2 CUDA device\(s\)"):
        resolve_device("cuda:2", "cpu")


def test_cuda_asked_for_without_cuda(no_gpu):
    assert resolve_device(None, "auto", [1]) == torch.device("cpu")  # auto falls back, index or not
    with pytest.raises(DeviceError, match="'cuda:1' asked for .* CUDA is not available here; set "
                                          "eval_options.device=cpu or train.accelerator=cpu"):
        resolve_device(None, "gpu", [1])
    with pytest.raises(DeviceError, match="'cuda' asked for"):
        resolve_device("cuda", "cpu")


def test_auto_picks_mps_when_there_is_no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device(None, "auto", [1]) == torch.device("mps")  # one MPS device: no index
    assert resolve_device(None, "cpu") == torch.device("cpu")


def test_describe_device_on_the_cpu():
    assert describe_device("cpu") == {"device": "cpu", "name": platform.processor() or platform.machine()}


def test_describe_device_names_the_gpu_and_its_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Card {i}")
    assert describe_device("cuda") == {"device": "cuda:1", "name": "Card 1"}
    assert describe_device(torch.device("cuda:0")) == {"device": "cuda:0", "name": "Card 0"}


def test_eval_workers(monkeypatch):
    assert eval_workers(3, torch.device("cuda")) == 3 and eval_workers(0, torch.device("cuda")) == 0
    assert eval_workers(None, torch.device("cpu")) == 0 and eval_workers(None, "mps") == 0
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert eval_workers(None, torch.device("cuda:1")) == 4 and eval_workers(None, "cuda") == 4
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert eval_workers(None, torch.device("cuda")) == 2
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert eval_workers(None, torch.device("cuda")) == 1


def test_loader_defaults_pin_memory_on_cuda_only():
    assert loader_defaults(torch.device("cuda:1")) == {"pin_memory": True}
    assert loader_defaults("cuda") == {"pin_memory": True}
    assert loader_defaults(torch.device("cpu")) == {"pin_memory": False}
    assert loader_defaults("mps") == {"pin_memory": False}
