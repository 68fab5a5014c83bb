"""``ssl-core sweep``: train and evaluate a pipeline once per value of one dotted key, then tabulate and plot.

``ssl-core sweep PIPELINE.yaml --param objective.params.p --values 0.05,0.1,0.2,0.3,0.4``
trains the pipeline once per value (``objective.params.p=<value>`` added to
the command line's overrides), each into its own run folder
``<out>/<last key part>=<value>`` (``<out>``: ``--out``, default the
pipeline's ``output``), evaluates each with the pipeline's evaluators and
writes into ``<out>``:

- ``sweep.md``: one row per value, one column per metric of the pretrained
  encoder (and a second table for the random-init encoder, when the pipeline
  evaluates it), plus any protocol that differs between the values;
- ``sweep.csv``: one row per value, every metric of every encoder;
- ``sweep.png``: every metric against the value, one panel per metric
  (pretrained solid, random init dotted): the NAC paper's Figure 4 for ``p``.

A value whose run folder already holds a finished, evaluated run of the same
resolved pipeline is not trained again; a finished but unevaluated one is
only evaluated; an interrupted one (a checkpoint, no ``model.pt``) is
continued with ``resume=True`` and refused without it. Every value's
configuration and folder are checked before anything is trained, so a bad
``--param`` key fails at once with the pipeline's configuration error.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ssl_core.atomic_write import atomic_savefig, atomic_write_text
from ssl_core.compare import compare, load_results
from ssl_core.config import Config, load_config, parse_override
from ssl_core.errors import ConfigError
from ssl_core.registry import Registry
from ssl_core.run import MODEL_FILE, PIPELINE_FILE, train
from ssl_core.run_lock import hold_run_folder
from ssl_core.checkpoint_io import checkpoint_files

PRETRAINED = "pretrained"


class SweepInterrupted(Exception):
    """Training of one value stopped before its end (e.g. Ctrl-C); the sweep can be resumed."""


@dataclass
class SweepPoint:
    """One value of the sweep: its text as given, its YAML value, its config and run folder."""

    text: str
    value: Any
    config: Config
    run_dir: Path
    state: str = "new"  # new | finished | trained | interrupted
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)  # (evaluator, metric, encoder) -> value


def split_values(text: str) -> list[str]:
    """``"0.05,0.1"`` -> ``["0.05", "0.1"]``; commas inside ``[...]`` or ``{...}`` do not split."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    if any(not p for p in parts):
        raise ConfigError(f"--values '{text}': an empty value; give values separated by commas, e.g. 0.1,0.2,0.4")
    if len(set(parts)) != len(parts):
        raise ConfigError(f"--values '{text}': a value is repeated")
    return parts


def folder_name(param: str, text: str) -> str:
    """The run folder of a value: ``<last key part>=<value as given>``, e.g. ``p=0.1``."""
    label = f"{param.split('.')[-1]}={text}"
    return "".join(c if c.isalnum() or c in "=._+-" else "_" for c in label)


def _same_pipeline(run_dir: Path, config: Config) -> bool:
    saved = run_dir / PIPELINE_FILE
    return saved.exists() and yaml.safe_load(saved.read_text()) == config.values


def plan(pipeline: str | Path, param: str, values: list[str], overrides: list[str] = (), out: str | Path | None = None,
         registry: Registry | None = None) -> tuple[Path, list[SweepPoint]]:
    """Validate the configuration of every value and find each run folder's state; nothing is trained.

    Raises:
        ConfigError: a bad ``param`` key or value (the pipeline's own error, naming the override),
            or a run folder that holds a run of a different pipeline.
    """
    key_path, _ = parse_override(f"{param}=0")
    if key_path[0] == "output":
        raise ConfigError("--param output: the sweep chooses each value's run folder; sweep another key, "
                          "and use --out for the sweep's folder")
    base = load_config(pipeline, list(overrides), registry)
    out_dir = Path(out) if out is not None else Path(base.values["output"])
    points = []
    for text in values:
        run_dir = out_dir / folder_name(param, text)
        config = load_config(pipeline, [*overrides, f"{param}={text}", f"output={run_dir}"], registry)
        point = SweepPoint(text, parse_override(f"{param}={text}")[1], config, run_dir)
        if (run_dir / MODEL_FILE).exists() or checkpoint_files(run_dir / "checkpoints"):
            if not _same_pipeline(run_dir, config):
                raise ConfigError(f"{run_dir} holds a run of a different pipeline (see its {PIPELINE_FILE}); "
                                  f"choose another --out for this sweep, or remove that folder")
            if (run_dir / MODEL_FILE).exists():
                point.state = "finished" if (run_dir / "results.json").exists() else "trained"
            else:
                point.state = "interrupted"
        points.append(point)
    return out_dir, points


def sweep(pipeline: str | Path, param: str, values: list[str] | str, overrides: list[str] = (),
          out: str | Path | None = None, resume: bool = False, registry: Registry | None = None,
          progress: Callable[[str], None] = print, callbacks: list | None = None) -> dict:
    """Train and evaluate ``pipeline`` once per value of ``param``; write ``sweep.md``, ``.csv`` and ``.png``.

    Args:
        pipeline: the pipeline file.
        param: a dotted key, e.g. ``objective.params.p``.
        values: the values (YAML, as on the command line), a list or one comma-separated string.
        overrides: further ``key=value`` overrides, applied before ``param``.
        out: the sweep's folder (default: the pipeline's ``output``).
        resume: continue interrupted runs from their last checkpoint.
        callbacks: extra Lightning callbacks for every training (tests).

    Returns:
        ``{"param", "out", "points", "rows", "columns", "mismatches"}`` (see :func:`summarize`).

    Raises:
        ConfigError: a bad key or value, a folder holding another pipeline's run,
            or an interrupted run without ``resume``.
        SweepInterrupted: a training stopped early; rerun with ``resume``.
    """
    from ssl_core.harness import evaluate_run
    from ssl_core.registry import registry as default_registry

    registry = registry or default_registry()
    texts = split_values(values) if isinstance(values, str) else [str(v) for v in values]
    if not texts or len(set(texts)) != len(texts):
        raise ConfigError(f"--values: give distinct values, got {texts}")
    out_dir, points = plan(pipeline, param, texts, overrides, out, registry)
    interrupted = [p for p in points if p.state == "interrupted"]
    if interrupted and not resume:
        raise ConfigError(f"interrupted runs in {', '.join(str(p.run_dir) for p in interrupted)}; "
                          f"rerun the sweep with --resume to continue them")
    n = len(points)
    progress(f"[ssl-core] sweep {param} over {n} values -> {out_dir}")
    for i, point in enumerate(points, 1):
        head = f"[ssl-core] sweep {i}/{n} {param}={point.text} ({point.run_dir})"
        if point.state == "finished":
            progress(f"{head}: already finished, not trained again")
            continue
        started = time.time()
        with hold_run_folder(point.run_dir):  # training and evaluation, with no other process in between
            if point.state in ("new", "interrupted"):
                progress(f"{head}: {'resuming' if point.state == 'interrupted' else 'training'} ...")
                train(point.config, registry, resume=point.state == "interrupted", callbacks=callbacks)
                if not (point.run_dir / MODEL_FILE).exists():
                    raise SweepInterrupted(f"training of {param}={point.text} stopped early; "
                                           f"continue the sweep with --resume")
            progress(f"{head}: evaluating ...")
            evaluate_run(point.run_dir, registry, progress)
        point.seconds = time.time() - started
        point.state = "finished"
        progress(f"{head}: done in {point.seconds:.0f} s")
    summary = summarize(param, out_dir, points)
    write_summary(summary)
    return summary


def summarize(param: str, out_dir: Path, points: list[SweepPoint]) -> dict:
    """Every metric of every run, read from its ``results.json`` (through :func:`ssl_core.compare.compare`).

    ``columns`` are ``(evaluator, metric, encoder)`` in the order the runs
    report them, with ``("training", "final_loss", "")`` first; ``rows`` one
    dict per value, ``{column: number}``. ``mismatches`` are the evaluator
    protocol entries that differ between the values (run-folder paths aside).
    """
    comparison = compare([p.run_dir for p in points])
    names = comparison["runs"]  # one per run folder, in order
    columns = [("training", "final_loss", "")] + list(comparison["table"])
    for point, name in zip(points, names):
        results = load_results(point.run_dir)
        point.metrics = {key: values[name] for key, values in comparison["table"].items() if name in values}
        point.metrics[("training", "final_loss", "")] = (results.get("training") or {}).get("final_loss", float("nan"))
    mismatches = {}
    for evaluator, differing in comparison["mismatches"].items():
        kept = {key: by_run for key, by_run in differing.items() if not _run_paths(by_run, points, names)}
        if kept:
            mismatches[evaluator] = {key: {p.text: by_run.get(name) for p, name in zip(points, names)}
                                     for key, by_run in kept.items()}
    return {"param": param, "out": out_dir, "points": points, "columns": columns,
            "rows": [p.metrics for p in points], "mismatches": mismatches}


def _run_paths(by_run: dict, points: list[SweepPoint], names: list[str]) -> bool:
    """Whether the differing protocol entry is only each run's own file (e.g. its PR-curve JSON)."""
    files = [by_run.get(name) for name in names]
    return (all(isinstance(f, str) for f in files) and len({Path(f).name for f in files}) == 1
            and all(Path(f).parent.name == point.run_dir.name for f, point in zip(files, points)))


def _cell(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return "—" if value is None else str(value)


def to_markdown(summary: dict) -> str:
    """One table per encoder (pretrained first): a row per value, a column per metric."""
    param, points = summary["param"], summary["points"]
    encoders = list(dict.fromkeys(c[2] for c in summary["columns"] if c[2]))
    encoders = sorted(encoders, key=lambda e: e != PRETRAINED) or [PRETRAINED]
    lines = [f"# Sweep: {param}", "", f"{len(points)} runs in {summary['out']}; every number from the run's results.json.", ""]
    for k, encoder in enumerate(encoders):
        columns = [c for c in summary["columns"] if c[2] == encoder or (k == 0 and c[2] == "")]
        lines += [f"## {encoder} encoder", "", "| " + " | ".join([param, *(f"{c[0]} {c[1]}" for c in columns)]) + " |",
                  "|" + "---|" * (len(columns) + 1)]
        for point in points:
            lines.append("| " + " | ".join([point.text, *(_cell(point.metrics.get(c)) for c in columns)]) + " |")
        lines.append("")
    if summary["mismatches"]:
        lines += ["## Protocols that differ between the values", ""]
        for evaluator, differing in summary["mismatches"].items():
            for key, by_value in differing.items():
                lines.append(f"- **{evaluator}** `{key}`: " + "; ".join(f"{v}: {x}" for v, x in by_value.items()))
        lines.append("")
    lines += ["## Run folders", ""] + [f"- {param}={p.text}: {p.run_dir}" for p in points]
    return "\n".join(lines) + "\n"


def to_csv(summary: dict) -> str:
    """One row per value: the parameter, the value, the run folder, then every metric (``evaluator/metric/encoder``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = summary["columns"]
    writer.writerow(["param", "value", "run_dir", *("/".join(x for x in c if x) for c in columns)])
    for point in summary["points"]:
        writer.writerow([summary["param"], point.text, str(point.run_dir), *(point.metrics.get(c, "") for c in columns)])
    return out.getvalue()


def plot(summary: dict, path: Path) -> Path:
    """One panel per ``(evaluator, metric)``: the pretrained encoder's value against the swept value (solid),
    the random-init encoder's (dotted) when evaluated. Numeric values on a numeric axis, others in order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = summary["points"]
    numeric = all(isinstance(p.value, (int, float)) and not isinstance(p.value, bool) for p in points)
    xs = [p.value for p in points] if numeric else list(range(len(points)))
    order = sorted(range(len(points)), key=lambda i: xs[i])
    panels = list(dict.fromkeys(c[:2] for c in summary["columns"]))
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, (evaluator, metric) in zip(axes.flat, panels):
        for column in summary["columns"]:
            if column[:2] != (evaluator, metric):
                continue
            ys = [points[i].metrics.get(column, float("nan")) for i in order]
            style = "o:" if column[2] not in (PRETRAINED, "") else "o-"
            ax.plot([xs[i] for i in order], ys, style, label=column[2] or "training", markersize=4)
        ax.set_title(f"{evaluator}\n{metric}", fontsize=8)
        ax.set_xlabel(summary["param"].split(".")[-1], fontsize=8)
        ax.tick_params(labelsize=7)
        if not numeric:
            ax.set_xticks(range(len(points)), [points[i].text for i in order])
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) > 1:
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"sweep of {summary['param']}", fontsize=10)
    fig.tight_layout()
    try:
        atomic_savefig(fig, path, dpi=110)
    finally:
        plt.close(fig)
    return path


def write_summary(summary: dict) -> None:
    """``sweep.md``, ``sweep.csv`` and ``sweep.png`` into the sweep's folder."""
    out_dir = Path(summary["out"])
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "sweep.md", to_markdown(summary))
    atomic_write_text(out_dir / "sweep.csv", to_csv(summary))
    plot(summary, out_dir / "sweep.png")
