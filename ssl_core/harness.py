"""Runs the evaluators of a pipeline on the frozen encoder and writes the results."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset

import ssl_core
from ssl_core.checkpoint_io import safe_torch_load
from ssl_core.config import Config, load_config
from ssl_core.batchnorm_calibration import recalibrate_batchnorm
from ssl_core.errors import ParamError
from ssl_core.eval_context import EvalContext, TransformedDataset
from ssl_core.pipeline import Pipeline, build, build_pipeline
from ssl_core.plots import plot_training_curves
from ssl_core.registry import Registry
from ssl_core.run import MODEL_FILE, PIPELINE_FILE

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


def run_evaluators(pipeline: Pipeline, label: str, progress=print) -> list[dict]:
    """Each evaluator of the pipeline on ``pipeline``'s (frozen) encoder; one record per evaluator.

    An evaluator sees the pipeline's training data, or its own when its entry
    has ``data: {dataset: ..., params: {...}}`` (e.g. ``hash_retrieval`` on
    the pooled CIFAR-10 train + test while the encoder trained on the
    protocol's 5,000-image subset, NAC paper Section 4.3).
    """
    config = pipeline.config
    options = config.values["eval_options"]
    ctx = EvalContext(encoder=freeze(pipeline.encoder), registry=pipeline.registry,
                      dataset=config.values["data"]["dataset"], dataset_params=config.values["data"]["params"],
                      views=pipeline.views, run_dir=Path(config.values["output"]), objective=freeze(pipeline.objective),
                      seed=config.values["seed"], batch_size=options["batch_size"], num_workers=options["num_workers"])
    records = []
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


def random_init_pipeline(config: Config, registry: Registry) -> tuple[Pipeline, dict]:
    """The pipeline as built (the pretraining's starting weights), BatchNorm statistics re-estimated on training data.

    Up to ``CALIBRATION_ITEMS`` training items (a seeded random subset, eval
    transform) pass through ``objective.embed`` in train mode without
    gradients (:func:`ssl_core.batchnorm_calibration.recalibrate_batchnorm`):
    the trained run's statistics come from the data too, so without this the
    baseline would differ from it in two things, not one.
    """
    pipeline = build_pipeline(config, registry)
    options = config.values["eval_options"]
    data = pipeline.train_data
    count = min(len(data), CALIBRATION_ITEMS)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(config.values["seed"]))[:count]
    loader = DataLoader(TransformedDataset(Subset(data, order.tolist()), pipeline.views.eval),
                        batch_size=options["batch_size"], num_workers=options["num_workers"])
    layers = recalibrate_batchnorm(pipeline.objective, (x for x, _ in loader),
                                   forward=getattr(pipeline.objective, "embed", None))
    return pipeline, {"weights": "as built from the seed (the pretraining's start)",
                      "batchnorm": (f"running statistics of {layers} layer(s) re-estimated on {count} training items "
                                    "(eval transform, average of batch statistics)" if layers else "no BatchNorm layers")}


def evaluate_run(run_dir: str | Path, registry: Registry | None = None, progress=print) -> dict:
    """Evaluate the trained run in ``run_dir``; write ``results.json``, ``results.md`` and plots."""
    run_dir = Path(run_dir)
    model_path = run_dir / MODEL_FILE
    if not model_path.exists():
        raise FileNotFoundError(f"no trained model at {model_path}: train the run first (ssl-core run PIPELINE.yaml), "
                                f"or resume it with --resume if it stopped")
    registry = registry or ssl_core.registry()
    config = load_config(run_dir / PIPELINE_FILE, registry=registry)
    config.values["output"] = str(run_dir)
    records, baseline = [], None
    if config.values["eval_options"]["random_init_baseline"]:
        pipeline, baseline = random_init_pipeline(config, registry)
        records += run_evaluators(pipeline, RANDOM_INIT, progress)
    pipeline = build_pipeline(config, registry)
    pipeline.objective.load_state_dict(safe_torch_load(model_path))
    records = run_evaluators(pipeline, PRETRAINED, progress) + records
    results = {
        "run": config.values["name"],
        "library_version": ssl_core.__version__,
        "git_commit": git_commit(),
        "seed": config.values["seed"],
        "checkpoint": MODEL_FILE,
        "checkpoint_sha256": sha256(model_path),
        "random_init": baseline,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__},
        "pipeline": config.values,
        "training": json.loads((run_dir / "training.json").read_text()) if (run_dir / "training.json").exists() else {},
        "evaluations": records,
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (run_dir / "results.md").write_text(results_markdown(results))
    plot_training_curves(run_dir, run_dir / "training_curves.png")
    return results


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
