"""Runs the evaluators of a pipeline on the frozen encoder and writes the results."""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset

import ssl_core
from ssl_core.api import TrainedRun, load_run
from ssl_core.atomic_write import DiskFullError, atomic_write_text, remove_stale_temporaries
from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.config import Config, load_config
from ssl_core.batchnorm_calibration import recalibrate_batchnorm
from ssl_core.devices import describe_device, eval_workers, loader_defaults
from ssl_core.errors import ParamError
from ssl_core.eval_context import EvalContext, TransformedDataset
from ssl_core.pipeline import Pipeline, build, build_pipeline
from ssl_core.provenance import component_versions
from ssl_core.plots import plot_training_curves
from ssl_core.registry import Registry
from ssl_core.preemption import requeue_on_sigusr1
from ssl_core.run_folder import MODEL_FILE, PIPELINE_FILE
from ssl_core.run_lock import hold_run_folder
from ssl_core.seeded_rng import seed_everything

PRETRAINED = "pretrained"
RANDOM_INIT = "random init"
CALIBRATION_ITEMS = 5000
"""Training items whose statistics the random-init baseline's BatchNorm layers take (:func:`random_init_pipeline`)."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str | None:
    """The commit of the ssl-core source tree, when it is a git checkout."""
    try:
        root = Path(ssl_core.__file__).resolve().parents[1]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def freeze(module: torch.nn.Module) -> torch.nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def run_evaluators(pipeline: Pipeline, label: str, progress=print, device=None, out_dir: Path | None = None) -> list[dict]:
    """Each evaluator of the pipeline on ``pipeline``'s (frozen) encoder; one record per evaluator.

    The evaluators run on ``device`` (default: where the objective's parameters are) and write their
    files (plots) to ``out_dir`` (default: the run folder).

    An evaluator sees the pipeline's training data, or its own when its entry
    has ``data: {dataset: ..., params: {...}}`` (e.g. ``hash_retrieval`` on
    the pooled CIFAR-10 train + test while the encoder trained on the
    protocol's 5,000-image subset, NAC paper Section 4.3).
    """
    config = pipeline.config
    options = config.values["eval_options"]
    device = device if device is not None else next(pipeline.objective.parameters(), torch.empty(0)).device
    ctx = EvalContext(encoder=freeze(pipeline.encoder), registry=pipeline.registry,
                      dataset=config.values["data"]["dataset"], dataset_params=config.values["data"]["params"],
                      views=pipeline.views, run_dir=Path(out_dir or config.values["output"]), objective=freeze(pipeline.objective),
                      seed=config.values["seed"], batch_size=options["batch_size"],
                      num_workers=eval_workers(options["num_workers"], device), device=device,
                      encoder_label=label)
    records = []
    seed_everything(config.values["seed"])  # the same start whatever ran before
    for i, spec in enumerate(config.values["evaluate"]):
        evaluator = build(config, pipeline.registry, "evaluator", spec["name"], spec["params"], ("evaluate", i, "params"))
        data = spec.get("data")
        progress(f"[ssl-core] evaluating {label} encoder: {spec['name']}"
                 + (f" on {data['dataset']} {data['params']}" if data else "") + " ...")
        started = time.time()
        try:
            outcome = evaluator.evaluate(ctx.with_data(data["dataset"], data["params"]) if data else ctx)
        except ParamError as exc:  # a value of the evaluator's own data that its dataset refuses: name the line
            if data and exc.key in data["params"]:
                raise config.error(("evaluate", i, "data", "params", exc.key), exc.message, exc.choices) from None
            raise
        records.append({"evaluator": spec["name"], "params": spec["params"], "data": data, "encoder": label,
                        "metrics": outcome.get("metrics", {}), "protocol": outcome.get("protocol", {}),
                        "outcomes": list(outcome.get("outcomes", [])),
                        "tables": outcome.get("tables", {}), "seconds": round(time.time() - started, 2)})
    return records


def random_init_pipeline(config: Config, registry: Registry, trained: TrainedRun | None = None) -> tuple[Pipeline, dict]:
    """The pipeline as built (the pretraining's starting weights), BatchNorm statistics re-estimated on training data.

    Up to ``CALIBRATION_ITEMS`` training items (a seeded random subset, eval
    transform) pass through ``objective.embed`` in train mode without
    gradients (:func:`ssl_core.batchnorm_calibration.recalibrate_batchnorm`):
    the trained run's statistics come from the data too, so without this the
    baseline would differ from it in two things, not one.

    With ``trained`` (a run loaded with ``keep_initial=True``) nothing is built
    again: its objective is copied and given its initial state, on its device.
    """
    if trained is not None and trained.initial_state is not None:
        objective, encoder = copy.deepcopy((trained.objective, trained.encoder))
        objective.load_state_dict(trained.initial_state)
        pipeline = replace(trained.pipeline, objective=objective, encoder=encoder)
        device = trained.device
    else:
        pipeline = build_pipeline(config, registry)
        device = torch.device("cpu")
    options = config.values["eval_options"]
    data = pipeline.train_data
    count = min(len(data), CALIBRATION_ITEMS)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(config.values["seed"]))[:count]
    loader = DataLoader(TransformedDataset(Subset(data, order.tolist()), pipeline.views.eval),
                        batch_size=options["batch_size"], num_workers=eval_workers(options["num_workers"], device),
                        **loader_defaults(device))
    layers = recalibrate_batchnorm(pipeline.objective, (x.to(device) for x, _ in loader),
                                   forward=getattr(pipeline.objective, "embed", None))
    init_from = config.values["encoder"].get("init_from")
    start = f"encoder from encoder.init_from {init_from}, the rest" if init_from else "as"
    return pipeline, {"weights": f"{start} built from the seed (the pretraining's start)",
                      "batchnorm": (f"running statistics of {layers} layer(s) re-estimated on {count} training items "
                                    "(eval transform, average of batch statistics)" if layers else "no BatchNorm layers")}


def evaluate_run(run_dir: str | Path, registry: Registry | None = None, progress=print,
                 trained: TrainedRun | None = None, overrides: list[str] = (), name: str | None = None) -> dict:
    """Evaluate the trained run in ``run_dir``; write ``results.json``, ``results.md`` and plots.

    The run is rebuilt once (:func:`ssl_core.load_run`, or ``trained`` when given, loaded with
    ``keep_initial=True`` for the random-init baseline) and evaluated on its device.

    Args:
        overrides: ``key=value`` overrides of ``evaluate`` and ``eval_options`` (the training is done).
        name: write this evaluation to ``RUN_DIR/evaluations/<name>/`` instead of the run's own results;
            default, with ``overrides``, a name made from them.
    """
    with hold_run_folder(run_dir, "evaluation", create=False), requeue_on_sigusr1():
        return _evaluate_run(Path(run_dir), registry, progress, trained, overrides, name)


def _evaluate_run(run_dir: Path, registry: Registry | None, progress, trained: TrainedRun | None,
                  overrides: list[str], name: str | None) -> dict:
    remove_stale_temporaries(run_dir)  # of a results write killed midway
    model_path = run_dir / MODEL_FILE
    if not model_path.exists():
        raise FileNotFoundError(f"no trained model at {model_path}: train the run first (ssl-core run PIPELINE.yaml), "
                                f"or resume it with --resume if it stopped")
    registry = registry or ssl_core.registry()
    trained = trained or load_run(run_dir, registry, keep_initial=True, overrides=overrides)
    config = trained.config
    if name is None and overrides:
        name = evaluation_name(overrides)
    out_dir = run_dir if name is None else run_dir / EVALUATIONS / name
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = run_dir / MODEL_FILE
    records = run_evaluators(trained.pipeline, PRETRAINED, progress, trained.device, out_dir)
    baseline = None
    if config.values["eval_options"]["random_init_baseline"]:
        pipeline, baseline = random_init_pipeline(config, registry, trained)
        records += run_evaluators(pipeline, RANDOM_INIT, progress, trained.device, out_dir)
    results = {
        "run": config.values["name"],
        "evaluation": name,
        "overrides": list(overrides),
        "library_version": ssl_core.__version__,
        "git_commit": git_commit(),
        "seed": config.values["seed"],
        "checkpoint": MODEL_FILE,
        "checkpoint_sha256": sha256(model_path),
        "random_init": baseline,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__},
        "evaluation_device": describe_device(trained.device) | {"precision": "32-true (float32)"},
        "training_precision": config.values["train"]["precision"],
        "components": component_versions(config, registry),
        "pipeline": config.values,
        "training": json.loads((run_dir / "training.json").read_text()) if (run_dir / "training.json").exists() else {},
        "evaluations": records,
    }
    try:
        atomic_write_text(out_dir / "results.json", json.dumps(results, indent=2, default=str))
        atomic_write_text(out_dir / "results.md", results_markdown(results))
        if name is None:
            plot_training_curves(run_dir, run_dir / "training_curves.png")
    except DiskFullError as exc:
        raise exc.with_context(f"the trained model {model_path} is intact; `ssl-core eval {run_dir}` "
                               f"evaluates it again") from None
    return results


EVALUATIONS = "evaluations"
"""The sub-folder of a run folder holding named evaluations (``ssl-core eval RUN_DIR OVERRIDES``)."""


def evaluation_name(overrides: list[str]) -> str:
    """A folder name made from ``overrides``: ``evaluate=[{name: knn, params: {k: 200}}]`` -> ``evaluate-knn-k-200``."""
    text = "_".join(overrides)
    slug = re.sub(r"[^A-Za-z0-9.=]+", "-", text).replace("=", "-").strip("-.")
    slug = re.sub(r"-{2,}", "-", slug).removeprefix("name-")
    slug = slug.replace("-name-", "-").replace("-params-", "-")
    return slug[:80].rstrip("-.") or "evaluation"


def results_markdown(results: dict) -> str:
    """The results table: one row per evaluator metric, one column per encoder (pretrained, random init)."""
    encoders = list(dict.fromkeys(r["encoder"] for r in results["evaluations"]))
    rows: dict[tuple[str, str], dict[str, float]] = {}
    protocols: dict[str, dict] = {}
    for record in results["evaluations"]:
        protocols.setdefault(record["evaluator"], record["protocol"])
        for metric, value in record["metrics"].items():
            rows.setdefault((record["evaluator"], metric), {})[record["encoder"]] = value
    lines = [f"# Results: {results['run']}", ""]
    training = results.get("training") or {}
    if training:
        lines += [f"Trained {training.get('epochs', '?')} epochs, {training.get('global_steps', '?')} steps; "
                  f"final loss {training.get('final_loss', float('nan')):.4f}.", ""]
    lines += ["| evaluator | metric | " + " | ".join(encoders) + " |", "|---|---|" + "---|" * len(encoders)]
    for (evaluator, metric), by_encoder in rows.items():
        cells = [f"{by_encoder[e]:.4f}" if isinstance(by_encoder.get(e), (int, float)) else "" for e in encoders]
        lines.append(f"| {evaluator} | {metric} | " + " | ".join(cells) + " |")
    for record in results["evaluations"]:
        for title, table in (record.get("tables") or {}).items():
            if record["encoder"] == encoders[0]:
                lines += ["", f"## {record['evaluator']}: {title}", "", table]
    if results.get("random_init"):
        lines += ["", f"Random init: weights {results['random_init']['weights']}; BatchNorm "
                  f"{results['random_init']['batchnorm']}."]
    lines += ["", "## Protocols", ""]
    for evaluator, protocol in protocols.items():
        lines.append(f"- **{evaluator}**: " + ", ".join(f"{k}={v}" for k, v in protocol.items()))
    lines += ["", f"seed {results['seed']}, ssl-core {results['library_version']}, commit {results['git_commit'] or 'n/a'}, "
              f"checkpoint sha256 {results['checkpoint_sha256'][:16]}"]
    return "\n".join(lines) + "\n"
