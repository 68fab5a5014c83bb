"""The structure of a pipeline file: its sections, keys, types, defaults and numeric ranges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

MAX_WORKERS = 64


@dataclass(frozen=True)
class Field:
    """A leaf of the schema: its type, default, and the component kind it names (if any)."""

    type: Any
    default: Any = None
    required: bool = False
    kind: str | None = None  # the registry kind whose names are valid values
    doc: str = ""


@dataclass(frozen=True)
class Component:
    """A component reference: a name, or ``{name: ..., params: {...}}``."""

    kind: str
    required: bool = True
    doc: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ComponentList:
    """A list of component references (the evaluators), each with optional ``extra`` keys beside name and params."""

    kind: str
    doc: str = ""
    extra: dict = field(default_factory=dict)


DATA: dict = {
    "dataset": Field(str, required=True, kind="dataset", doc="a registered dataset"),
    "params": Field(dict, {}, doc="its parameters"),
}
"""An evaluator's own data, ``{dataset: ..., params: {...}}``, in place of the pipeline's training data."""


SCHEMA: dict = {
    "name": Field(str, required=True, doc="the run's name"),
    "seed": Field(int, 0, doc="seed of everything random: init, data order, views, noise"),
    "modality": Field(str, "image", doc="informational: image | speech"),
    "output": Field((str, type(None)), None, doc="run folder (default runs/<name>)"),
    "data": {
        "dataset": Field(str, required=True, kind="dataset", doc="training dataset"),
        "params": Field(dict, {}, doc="its parameters"),
        "num_workers": Field(int, 0, doc="DataLoader workers"),
    },
    "views": Component("views", doc="the augmentations that make each example's views"),
    "encoder": Component("encoder", doc="the backbone", extra={
        "init_from": Field((str, type(None)), None, doc="start from these weights: a run folder, an encoder state "
                                                        "dict (.pt/.pth) or torchvision (its ImageNet weights, local)")}),
    "objective": {
        "name": Field(str, required=True, kind="objective", doc="the self-supervised objective"),
        "params": Field(dict, {}, doc="its parameters"),
        "negatives": {
            "source": Component("sampler", required=False, doc="negative source; default: the objective's first"),
            "select": Component("selector", required=False, doc="negative selector (e.g. ring); default none"),
        },
    },
    "train": {
        "epochs": Field(int, 100),
        "batch_size": Field(int, 256),
        "max_steps": Field(int, -1, doc="stop after this many steps (-1: run all epochs)"),
        "optimizer": {
            "name": Field(Literal["sgd", "lars", "adam"], "sgd"),
            "lr": Field(float, 0.03),
            "momentum": Field(float, 0.9, doc="SGD / LARS momentum"),
            "nesterov": Field(bool, False),
            "weight_decay": Field(float, 0.0),
            "betas": Field(list[float], [0.9, 0.999], doc="Adam betas"),
        },
        "schedule": {
            "name": Field(Literal["constant", "warmup_cosine", "step"], "constant"),
            "warmup_epochs": Field(float, 0.0),
            "end_lr_fraction": Field(float, 0.0, doc="cosine: final lr / initial lr"),
            "milestones": Field(list[int], [], doc="step: epochs at which the lr is multiplied by gamma"),
            "gamma": Field(float, 0.1),
        },
        "checkpoint_every_n_steps": Field(int, 0, doc="0: at the end of every epoch only"),
        "accelerator": Field(Literal["auto", "cpu", "gpu"], "auto"),
        "devices": Field((int, str), 1),
        "num_nodes": Field(int, 1),
        "strategy": Field(str, "auto", doc="auto | ddp | ddp_spawn ..."),
        "sync_batchnorm": Field(bool, False),
        "precision": Field(str, "32-true"),
        "log_every_n_steps": Field(int, 1),
        "progress_bar": Field(bool, True),
        "detect_anomaly": Field(bool, False),
        "channels_last": Field(bool, True, doc="channels-last layout for the encoders and image batches (faster "
                               "convolutions on CPUs and GPUs; the same losses to float rounding)"),
        "compile": Field(Union[bool, Literal["auto"]], "auto", doc="torch.compile the encoders: true | false | "
                         "auto (compile when the run plans >= 2000 steps, where the compile time pays back)"),
        "logger": Field((str, list), "csv", doc="csv | tensorboard | wandb | mlflow, or a list of them"),
    },
    "evaluate": ComponentList("evaluator", doc="evaluators run on the frozen encoder after training",
                              extra={"data": Field((dict, type(None)), None, doc="the evaluator's own data "
                                                   "{dataset: ..., params: {...}} (default: the pipeline's data)")}),
    "eval_options": {
        "random_init_baseline": Field(bool, False, doc="also evaluate a randomly initialised encoder"),
        "batch_size": Field(int, 256),
        "num_workers": Field((int, type(None)), None, doc="DataLoader workers (null: 0 on the CPU, up to 4 beside a GPU)"),
        "device": Field((str, type(None)), None, doc="cpu | cuda | cuda:<index> | mps (null: the training's device)"),
    },
}


RANGES: dict[tuple, tuple[float, float]] = {
    ("seed",): (0, 2**32 - 1),  # what numpy (and Lightning's seed_everything) accept
    ("data", "num_workers"): (0, MAX_WORKERS),
    ("eval_options", "num_workers"): (0, MAX_WORKERS),
    ("eval_options", "batch_size"): (1, 2**20),
    ("train", "epochs"): (1, 10**7),
    ("train", "batch_size"): (1, 2**20),
    ("train", "max_steps"): (-1, 10**12),
    ("train", "num_nodes"): (1, 10**4),
    ("train", "checkpoint_every_n_steps"): (0, 10**12),
    ("train", "log_every_n_steps"): (1, 10**12),
    ("train", "optimizer", "lr"): (0, 10**6),
    ("train", "optimizer", "weight_decay"): (0, 10**3),
    ("train", "schedule", "warmup_epochs"): (0, 10**7),
}
"""Inclusive bounds of numeric keys: a typo such as 1e30 workers is an error, not a fork storm."""
