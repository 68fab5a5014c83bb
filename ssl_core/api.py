"""The Python API: ``ssl_core.run`` trains and evaluates a pipeline, ``ssl_core.load_run`` reopens a trained run.

::

    import ssl_core

    result = ssl_core.run("examples/pipelines/nac_smallcnn32_1xb128-coslr-12e_digits.yaml", overrides={"train.epochs": 5})
    result.metrics["linear_probe"]["top1"]
    trained = ssl_core.load_run(result.run_dir)
    features = trained.embed(images)          # a batch of eval-view tensors -> pooled features
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # torch is imported when a run is built, not when ssl_core is
    import torch

    from ssl_core.config import Config
    from ssl_core.pipeline import Pipeline
    from ssl_core.registry import Registry


@dataclass
class TrainedRun:
    """A trained run folder, rebuilt: its pipeline with the trained weights, on its device, frozen.

    Attributes:
        run_dir: the run folder.
        config: the run's validated pipeline (``pipeline.yaml`` of the folder; ``output`` is the folder).
        pipeline: the built components (data, views, encoder, objective).
        device: where the encoder and objective are.
        initial_state: the objective's state as built from the seed, before the trained weights were
            loaded (the pretraining's start); only with ``load_run(..., keep_initial=True)``.
    """

    run_dir: Path
    config: "Config"
    pipeline: "Pipeline"
    device: "torch.device"
    initial_state: dict | None = field(default=None, repr=False)

    @property
    def encoder(self) -> "torch.nn.Module":
        """The trained backbone (eval mode, no gradients), on :attr:`device`."""
        return self.pipeline.encoder

    @property
    def objective(self) -> "torch.nn.Module":
        """The trained objective (heads, momentum encoder, bank or queue), eval mode, on :attr:`device`."""
        return self.pipeline.objective

    @property
    def views(self) -> Any:
        """The pipeline's views: ``views.eval(x)`` is the deterministic transform new data must go through."""
        return self.pipeline.views

    @property
    def results(self) -> dict:
        """The folder's ``results.json`` (``{}`` before any evaluation)."""
        path = self.run_dir / "results.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """``{evaluator: {metric: value}}`` of the pretrained encoder in ``results.json``."""
        return metrics_of(self.results)

    def embed(self, x: "torch.Tensor", layer: str = "pooled", batch_size: int | None = None) -> "torch.Tensor":
        """Features of a batch of eval-view inputs ``x`` (``[N, C, ...]``), on the CPU.

        Args:
            x: inputs already through ``views.eval`` (one tensor per item, stacked).
            layer: ``pooled`` (the encoder's output), ``prepool`` (the flattened last map) or
                ``embedding`` (``objective.embed``: NAC's pre-activation code, a baseline's head output).
            batch_size: items per forward pass (default ``eval_options.batch_size``).
        """
        import torch

        from ssl_core.eval_context import encode

        batch_size = batch_size or self.config.values["eval_options"]["batch_size"]
        batches = [(x[i : i + batch_size], torch.zeros(len(x[i : i + batch_size]), dtype=torch.long))
                   for i in range(0, len(x), batch_size)]
        features, _ = encode(self.encoder, batches, layer, self.objective, self.device)
        return features


@dataclass
class RunResult(TrainedRun):
    """What :func:`run` returns: the trained run (see :class:`TrainedRun`) and its evaluation."""

    evaluation: dict = field(default_factory=dict, repr=False)

    @property
    def results(self) -> dict:
        return self.evaluation or super().results


def metrics_of(results: dict, encoder: str = "pretrained") -> dict[str, dict[str, float]]:
    """``{evaluator: {metric: value}}`` of one encoder's records in a ``results.json`` (later names get ``#2``...)."""
    out: dict[str, dict[str, float]] = {}
    for record in results.get("evaluations", []):
        if record["encoder"] != encoder:
            continue
        name, n = record["evaluator"], 2
        while name in out:
            name, n = f"{record['evaluator']}#{n}", n + 1
        out[name] = dict(record["metrics"])
    return out


def load_run(run_dir: str | Path, registry: "Registry | None" = None, device: "str | torch.device | None" = None,
             keep_initial: bool = False, overrides: list[str] = ()) -> TrainedRun:
    """The trained run in ``run_dir``, rebuilt and ready to embed new data.

    The pipeline is rebuilt from the folder's ``pipeline.yaml`` (seeded, so
    the weights start as the run's did), the trained weights of ``model.pt``
    are loaded with ``weights_only=True``, and the encoder and objective are
    frozen (eval mode, no gradients) on ``device``.

    Args:
        run_dir: a folder made by ``ssl-core run`` (or :func:`run`).
        registry: the component registry (default: every installed plugin).
        device: default ``eval_options.device`` of the run, else the training's
            (``train.accelerator``; ``auto`` is CUDA when available; the GPU of ``train.devices``
            when it names one index, e.g. ``[1]``: ``cuda:1``).
        keep_initial: also keep the objective's state as built, before loading
            the trained weights (the random-init baseline's start).
        overrides: ``key=value`` overrides of ``evaluate`` and ``eval_options`` only
            (the rest of the pipeline made the trained weights).

    Raises:
        FileNotFoundError: no ``pipeline.yaml`` or no ``model.pt`` in ``run_dir``.
        DeviceError: the device asked for is not on this machine.
        ConfigError: an override of a key other than ``evaluate`` or ``eval_options.*``.
    """
    import ssl_core
    from ssl_core.checkpoint_io import safe_torch_load
    from ssl_core.config import load_config
    from ssl_core.devices import resolve_device
    from ssl_core.errors import ConfigError
    from ssl_core.pipeline import build_pipeline
    from ssl_core.run_folder import MODEL_FILE, PIPELINE_FILE

    run_dir = Path(run_dir)
    if not (run_dir / PIPELINE_FILE).is_file():
        raise FileNotFoundError(f"no trained model at {run_dir / MODEL_FILE}: {run_dir} is not a run folder: no "
                                f"{PIPELINE_FILE} in it (a folder made by ssl-core run PIPELINE.yaml)")
    if not (run_dir / MODEL_FILE).is_file():
        raise FileNotFoundError(f"no trained model at {run_dir / MODEL_FILE}: train the run first (ssl-core run "
                                f"PIPELINE.yaml), or finish it with --resume if it stopped")
    registry = registry or ssl_core.registry()
    for text in overrides:
        key = text.split("=", 1)[0].strip()
        if key != "evaluate" and not key.startswith("eval_options."):
            raise ConfigError(f"override '{text}': a trained run takes overrides of evaluate and eval_options.* "
                              f"only ({key} made its weights); train a new run for it")
    config = load_config(run_dir / PIPELINE_FILE, list(overrides), registry=registry)
    config.values["output"] = str(run_dir)
    values = config.values
    target = resolve_device(device if device is not None else values["eval_options"]["device"],
                            values["train"]["accelerator"], values["train"]["devices"])
    pipeline = build_pipeline(config, registry, init_weights=keep_initial)  # the trained weights replace them
    initial = copy.deepcopy(pipeline.objective.state_dict()) if keep_initial else None
    pipeline.objective.load_state_dict(safe_torch_load(run_dir / MODEL_FILE))
    place(pipeline, target)
    return TrainedRun(run_dir, config, pipeline, target, initial)


def place(pipeline: "Pipeline", device: "torch.device") -> "Pipeline":
    """Move the pipeline's objective (and its encoder) to ``device``, frozen: eval mode, no gradients."""
    for module in {id(m): m for m in (pipeline.objective, pipeline.encoder)}.values():
        module.to(device).eval()
        for p in module.parameters():
            p.requires_grad_(False)
    return pipeline


def _overrides(overrides: Mapping[str, Any] | list[str] | None) -> list[str]:
    """``{"train.epochs": 5}`` -> ``["train.epochs=5"]`` (values written as JSON, which YAML reads back as given)."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    return list(overrides)


def load_pipeline(pipeline: str | Path | Mapping, overrides: Mapping[str, Any] | list[str] | None = None,
                  registry: "Registry | None" = None) -> "Config":
    """The validated configuration of a pipeline file or of a pipeline given as a dict, with ``overrides``.

    Raises:
        ConfigError: as for a pipeline file (a dict's errors name ``<dict>`` and the key).
    """
    import ssl_core
    from ssl_core.config import load_config, load_config_text

    registry = registry or ssl_core.registry()
    if isinstance(pipeline, Mapping):
        import yaml

        return load_config_text(yaml.safe_dump(dict(pipeline), sort_keys=False), "<dict>", _overrides(overrides),
                                registry)
    return load_config(pipeline, _overrides(overrides), registry)


def run(pipeline: str | Path | Mapping, overrides: Mapping[str, Any] | list[str] | None = None, *,
        resume: bool = False, evaluate: bool = True, registry: "Registry | None" = None, progress=print) -> RunResult:
    """Train a pipeline into its run folder, then run its evaluators, as ``ssl-core run`` does.

    Args:
        pipeline: a pipeline file, or the pipeline itself as a dict (the YAML file's content).
        overrides: ``{"train.epochs": 5, "encoder.params.width": 16}`` (or ``["train.epochs=5"]``).
        resume: continue the run from its last checkpoint.
        evaluate: run the pipeline's evaluators after training.
        registry: the component registry (default: every installed plugin).
        progress: where progress lines go (``print``; ``lambda *_: None`` for silence).

    Returns:
        the trained run (encoder, objective, views, run folder) with its evaluation
        (``.metrics``: ``{evaluator: {metric: value}}``).

    Raises:
        ConfigError: the pipeline is invalid (file, line and key named).
        TrainingStopped: training ended before its last step (resume it with ``resume=True``).
        RunFolderBusy: another process trains or evaluates in the run folder (it is held from the
            start of training to the end of evaluation).
    """
    import ssl_core
    from ssl_core.checkpoint_io import safe_torch_load
    from ssl_core.errors import TrainingStopped
    from ssl_core.run import MODEL_FILE, run_dir_of, train
    from ssl_core.run_lock import hold_run_folder

    registry = registry or ssl_core.registry()
    config = load_pipeline(pipeline, overrides, registry)
    # training and evaluation with no other process in between, as ``ssl-core run`` (the lock is re-entrant:
    # training and evaluation each take it too)
    with hold_run_folder(run_dir_of(config)):
        run_dir = train(config, registry, resume=resume)
        if run_dir is None:
            raise TrainingStopped("this is a non-zero rank of a distributed run: rank 0 holds the result")
        if not (run_dir / MODEL_FILE).exists():
            raise TrainingStopped(f"training of {run_dir} stopped before its end; continue it with resume=True")
        evaluation = {}
        if evaluate and config.values["evaluate"]:
            from ssl_core.harness import evaluate_run
            from ssl_core.preemption import requeue_on_sigusr1

            # the one rebuild of the run: evaluated (keep_initial: the random-init baseline's start), then returned
            with requeue_on_sigusr1():  # as when evaluate_run rebuilt it: under SLURM, SIGUSR1 requeues
                trained = load_run(run_dir, registry, keep_initial=True)
                evaluation = evaluate_run(run_dir, registry, progress, trained=trained)
            # the weights returned are model.pt's whatever an evaluator did to them; frozen again
            trained.pipeline.objective.load_state_dict(safe_torch_load(run_dir / MODEL_FILE))
            place(trained.pipeline, trained.device)
        else:
            trained = load_run(run_dir, registry)
    return RunResult(trained.run_dir, trained.config, trained.pipeline, trained.device, evaluation=evaluation)
