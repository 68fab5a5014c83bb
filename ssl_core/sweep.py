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

``--seeds 0 1 2`` trains every value at every seed (``seed=<seed>`` added
after the value), each into its own run folder
``<out>/<last key part>=<value>_seed=<seed>``; ``sweep.md`` then gives, per
value and metric, the mean ± sample standard deviation over the seeds and,
below it, each seed's value; ``sweep.csv`` one row per run (with its seed);
``sweep.png`` the mean with the standard deviation as error bars. Without
``--seeds`` every value runs once, at the pipeline's own seed, in
``<out>/<last key part>=<value>``.

A run (a value, or a value at a seed) whose run folder already holds a
finished, evaluated run of the same resolved pipeline is not trained again;
a finished but unevaluated one is only evaluated; an interrupted one (a
checkpoint, no ``model.pt``) is continued with ``resume=True`` and refused
without it; each run holds its folder's lock while it trains and evaluates. Every value's
configuration and folder are checked before anything is trained, so a bad
``--param`` key fails at once with the pipeline's configuration error.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
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
MAX_SEED = 2**32 - 1  # the schema's range of ``seed``: what numpy and Lightning's seed_everything accept


class SweepInterrupted(Exception):
    """Training of one value stopped before its end (e.g. Ctrl-C); the sweep can be resumed."""


@dataclass
class SweepPoint:
    """One run of the sweep: its value's text as given, its YAML value, its config and run folder,
    and its seed when the sweep was given seeds (``None``: the pipeline's own seed)."""

    text: str
    value: Any
    config: Config
    run_dir: Path
    seed: int | None = None
    state: str = "new"  # new | finished | trained | interrupted
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)  # (evaluator, metric, encoder) -> value

    @property
    def label(self) -> str:
        """The value as given, and its seed when the sweep has seeds: ``0.1`` or ``0.1, seed 2``."""
        return self.text if self.seed is None else f"{self.text}, seed {self.seed}"


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


def parse_seeds(seeds: list[str | int] | str | None) -> list[int] | None:
    """``["0", "1", "2"]`` (or ``"0,1,2"``) -> ``[0, 1, 2]``; ``None`` (no ``--seeds``) -> ``None``.

    Raises:
        ConfigError: no seed, a seed that is not a whole number from 0 to 2**32 - 1, or a repeated seed.
    """
    if seeds is None:
        return None
    items = [seeds] if isinstance(seeds, (str, int)) else list(seeds)
    texts = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    if not texts:
        raise ConfigError("--seeds: give at least one seed, e.g. --seeds 0 1 2")
    parsed = []
    for text in texts:
        digits = text[1:] if text[:1] in "+-" else text
        if not (digits.isascii() and digits.isdigit()):
            raise ConfigError(f"--seeds '{text}': a seed is a whole number from 0 to {MAX_SEED}, e.g. --seeds 0 1 2")
        seed = int(text)
        if not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"--seeds '{text}': out of range; a seed is a whole number from 0 to {MAX_SEED}")
        if seed in parsed:
            raise ConfigError(f"--seeds: seed {seed} is repeated; give distinct seeds, e.g. --seeds 0 1 2")
        parsed.append(seed)
    return parsed


def folder_name(param: str, text: str, seed: int | None = None) -> str:
    """The run folder of a value: ``<last key part>=<value as given>``, e.g. ``p=0.1``;
    of a value at a seed: ``p=0.1_seed=2``."""
    label = f"{param.split('.')[-1]}={text}" + ("" if seed is None else f"_seed={seed}")
    return "".join(c if c.isalnum() or c in "=._+-" else "_" for c in label)


def _same_pipeline(run_dir: Path, config: Config) -> bool:
    saved = run_dir / PIPELINE_FILE
    return saved.exists() and yaml.safe_load(saved.read_text()) == config.values


def plan(pipeline: str | Path, param: str, values: list[str], overrides: list[str] = (), out: str | Path | None = None,
         registry: Registry | None = None, seeds: list[int] | None = None) -> tuple[Path, list[SweepPoint]]:
    """Validate the configuration of every run and find each run folder's state; nothing is trained.

    With ``seeds``, one run per value and seed (value-major order), else one per value at the pipeline's seed.

    Raises:
        ConfigError: a bad ``param`` key or value (the pipeline's own error, naming the override),
            ``seed`` swept or overridden beside ``seeds``, or a run folder that holds a run of a different pipeline.
    """
    key_path, _ = parse_override(f"{param}=0")
    if key_path[0] == "output":
        raise ConfigError("--param output: the sweep chooses each value's run folder; sweep another key, "
                          "and use --out for the sweep's folder")
    if seeds is not None:
        if tuple(key_path) == ("seed",):
            raise ConfigError("--param seed with --seeds: sweep the seed with one of them only")
        if any(tuple(parse_override(o)[0]) == ("seed",) for o in overrides):
            raise ConfigError("a seed=... override with --seeds: give the seeds with --seeds only")
    base = load_config(pipeline, list(overrides), registry)
    out_dir = Path(out) if out is not None else Path(base.values["output"])
    points = []
    for text, seed in [(text, seed) for text in values for seed in (seeds if seeds is not None else [None])]:
        run_dir = out_dir / folder_name(param, text, seed)
        seeded = [] if seed is None else [f"seed={seed}"]
        config = load_config(pipeline, [*overrides, f"{param}={text}", *seeded, f"output={run_dir}"], registry)
        point = SweepPoint(text, parse_override(f"{param}={text}")[1], config, run_dir, seed)
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
          progress: Callable[[str], None] = print, callbacks: list | None = None,
          seeds: list[str | int] | str | None = None) -> dict:
    """Train and evaluate ``pipeline`` once per value of ``param`` (and seed); write ``sweep.md``, ``.csv``, ``.png``.

    Args:
        pipeline: the pipeline file.
        param: a dotted key, e.g. ``objective.params.p``.
        values: the values (YAML, as on the command line), a list or one comma-separated string.
        overrides: further ``key=value`` overrides, applied before ``param``.
        out: the sweep's folder (default: the pipeline's ``output``).
        resume: continue interrupted runs from their last checkpoint.
        callbacks: extra Lightning callbacks for every training (tests).
        seeds: run every value at each of these seeds (``["0", "1"]``, ``[0, 1]`` or ``"0,1"``), each in
            its own run folder; ``None``: once per value, at the pipeline's own seed.

    Returns:
        ``{"param", "out", "seeds", "points", "groups", "rows", "columns", "mismatches"}`` (see :func:`summarize`).

    Raises:
        ConfigError: a bad key, value or seed, a folder holding another pipeline's run,
            or an interrupted run without ``resume``.
        SweepInterrupted: a training stopped early; rerun with ``resume``.
    """
    from ssl_core.harness import evaluate_run
    from ssl_core.registry import registry as default_registry

    registry = registry or default_registry()
    texts = split_values(values) if isinstance(values, str) else [str(v) for v in values]
    if not texts or len(set(texts)) != len(texts):
        raise ConfigError(f"--values: give distinct values, got {texts}")
    seeds = parse_seeds(seeds)
    out_dir, points = plan(pipeline, param, texts, overrides, out, registry, seeds)
    interrupted = [p for p in points if p.state == "interrupted"]
    if interrupted and not resume:
        raise ConfigError(f"interrupted runs in {', '.join(str(p.run_dir) for p in interrupted)}; "
                          f"rerun the sweep with --resume to continue them")
    n = len(points)
    if seeds is None:
        progress(f"[ssl-core] sweep {param} over {n} values -> {out_dir}")
    else:
        progress(f"[ssl-core] sweep {param} over {len(texts)} values x {len(seeds)} seeds ({n} runs) -> {out_dir}")
    for i, point in enumerate(points, 1):
        seed = "" if point.seed is None else f" seed={point.seed}"
        head = f"[ssl-core] sweep {i}/{n} {param}={point.text}{seed} ({point.run_dir})"
        if point.state == "finished":
            progress(f"{head}: already finished, not trained again")
            continue
        started = time.time()
        with hold_run_folder(point.run_dir):  # training and evaluation, with no other process in between
            if point.state in ("new", "interrupted"):
                progress(f"{head}: {'resuming' if point.state == 'interrupted' else 'training'} ...")
                train(point.config, registry, resume=point.state == "interrupted", callbacks=callbacks)
                if not (point.run_dir / MODEL_FILE).exists():
                    raise SweepInterrupted(f"training of {param}={point.text}{seed} stopped early; "
                                           f"continue the sweep with --resume")
            progress(f"{head}: evaluating ...")
            evaluate_run(point.run_dir, registry, progress)
        point.seconds = time.time() - started
        point.state = "finished"
        progress(f"{head}: done in {point.seconds:.0f} s")
    summary = summarize(param, out_dir, points, seeds)
    write_summary(summary)
    return summary


def summarize(param: str, out_dir: Path, points: list[SweepPoint], seeds: list[int] | None = None) -> dict:
    """Every metric of every run, read from its ``results.json`` (through :func:`ssl_core.compare.compare`).

    ``columns`` are ``(evaluator, metric, encoder)`` in the order the runs
    report them, with ``("training", "final_loss", "")`` first; ``rows`` one
    dict per run, ``{column: number}``. ``groups`` one per value, in order:
    ``{"text", "value", "points", "mean", "std"}``, the mean and the sample
    standard deviation (``nan`` below two seeds) of each column over the
    value's runs. ``mismatches`` are the evaluator protocol entries that
    differ between the runs (run-folder paths aside).
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
            mismatches[evaluator] = {key: {p.label: by_run.get(name) for p, name in zip(points, names)}
                                     for key, by_run in kept.items()}
    groups = []
    for text in dict.fromkeys(p.text for p in points):
        members = [p for p in points if p.text == text]
        stats = {column: mean_std([p.metrics.get(column) for p in members]) for column in columns}
        groups.append({"text": text, "value": members[0].value, "points": members,
                       "mean": {c: m for c, (m, _) in stats.items()}, "std": {c: s for c, (_, s) in stats.items()}})
    return {"param": param, "out": out_dir, "seeds": seeds, "points": points, "groups": groups, "columns": columns,
            "rows": [p.metrics for p in points], "mismatches": mismatches}


def mean_std(values: list) -> tuple[float, float]:
    """The mean and the sample standard deviation (n - 1) of ``values``; ``nan`` for a missing or
    non-numeric value, and the standard deviation ``nan`` below two values."""
    xs = [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan") for v in values]
    if not xs:
        return float("nan"), float("nan")
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else float("nan")


def _run_paths(by_run: dict, points: list[SweepPoint], names: list[str]) -> bool:
    """Whether the differing protocol entry is only each run's own file (e.g. its PR-curve JSON)."""
    files = [by_run.get(name) for name in names]
    return (all(isinstance(f, str) for f in files) and len({Path(f).name for f in files}) == 1
            and all(Path(f).parent.name == point.run_dir.name for f, point in zip(files, points)))


def _cell(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return "—" if value is None else str(value)


def _mean_cell(group: dict, column: tuple) -> str:
    if len(group["points"]) == 1:
        return _cell(group["points"][0].metrics.get(column))
    return f"{_cell(group['mean'][column])} ± {_cell(group['std'][column])}"


def to_markdown(summary: dict) -> str:
    """One table per encoder (pretrained first): a row per value, a column per metric.

    With several seeds, a value's row gives ``mean ± sample standard deviation``
    over its seeds, and a row per seed (``<value>, seed <seed>``) follows it.
    """
    param, points, seeds = summary["param"], summary["points"], summary.get("seeds")
    groups = summary["groups"]
    encoders = list(dict.fromkeys(c[2] for c in summary["columns"] if c[2]))
    encoders = sorted(encoders, key=lambda e: e != PRETRAINED) or [PRETRAINED]
    note = f"{len(points)} runs in {summary['out']}; every number from the run's results.json."
    if seeds is not None:
        note = (f"{len(points)} runs ({len(groups)} values x seeds {', '.join(map(str, seeds))}) in {summary['out']}; "
                f"every number from the run's results.json"
                + ("; per value: mean ± sample standard deviation over the seeds, then each seed's value."
                   if len(seeds) > 1 else "."))
    lines = [f"# Sweep: {param}", "", note, ""]
    for k, encoder in enumerate(encoders):
        columns = [c for c in summary["columns"] if c[2] == encoder or (k == 0 and c[2] == "")]
        lines += [f"## {encoder} encoder", "", "| " + " | ".join([param, *(f"{c[0]} {c[1]}" for c in columns)]) + " |",
                  "|" + "---|" * (len(columns) + 1)]
        for group in groups:
            lines.append("| " + " | ".join([group["text"], *(_mean_cell(group, c) for c in columns)]) + " |")
            if len(group["points"]) > 1:
                for point in group["points"]:
                    lines.append("| " + " | ".join([point.label, *(_cell(point.metrics.get(c)) for c in columns)]) + " |")
        lines.append("")
    if summary["mismatches"]:
        lines += ["## Protocols that differ between the values", ""]
        for evaluator, differing in summary["mismatches"].items():
            for key, by_value in differing.items():
                lines.append(f"- **{evaluator}** `{key}`: " + "; ".join(f"{v}: {x}" for v, x in by_value.items()))
        lines.append("")
    lines += ["## Run folders", ""] + [f"- {param}={p.label}: {p.run_dir}" for p in points]
    return "\n".join(lines) + "\n"


def to_csv(summary: dict) -> str:
    """One row per run: the parameter, the value, the seed (when the sweep has seeds), the run folder,
    then every metric (``evaluator/metric/encoder``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = summary["columns"]
    seeded = summary.get("seeds") is not None
    writer.writerow(["param", "value", *(["seed"] if seeded else []), "run_dir",
                     *("/".join(x for x in c if x) for c in columns)])
    for point in summary["points"]:
        writer.writerow([summary["param"], point.text, *([point.seed] if seeded else []), str(point.run_dir),
                         *(point.metrics.get(c, "") for c in columns)])
    return out.getvalue()


def figure(summary: dict):
    """The figure of :func:`plot`, not saved (the caller closes it): one panel per ``(evaluator, metric)``.

    With one run per value, the value of each run as points joined by lines, as
    :func:`plot` always drew; with several seeds per value, the mean over the
    seeds with the sample standard deviation as error bars (one
    ``ErrorbarContainer`` per encoder and panel, in ``ax.containers``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = summary["groups"]
    numeric = all(isinstance(g["value"], (int, float)) and not isinstance(g["value"], bool) for g in groups)
    xs = [g["value"] for g in groups] if numeric else list(range(len(groups)))
    order = sorted(range(len(groups)), key=lambda i: xs[i])
    error_bars = any(len(g["points"]) > 1 for g in groups)
    panels = list(dict.fromkeys(c[:2] for c in summary["columns"]))
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, (evaluator, metric) in zip(axes.flat, panels):
        for column in summary["columns"]:
            if column[:2] != (evaluator, metric):
                continue
            x = [xs[i] for i in order]
            style = "o:" if column[2] not in (PRETRAINED, "") else "o-"
            label = column[2] or "training"
            if error_bars:
                ys = [groups[i]["mean"].get(column, float("nan")) for i in order]
                errors = [groups[i]["std"].get(column, float("nan")) for i in order]
                ax.errorbar(x, ys, yerr=errors, fmt=style, label=label, markersize=4, capsize=3, elinewidth=1)
            else:
                ys = [groups[i]["points"][0].metrics.get(column, float("nan")) for i in order]
                ax.plot(x, ys, style, label=label, markersize=4)
        ax.set_title(f"{evaluator}\n{metric}", fontsize=8)
        ax.set_xlabel(summary["param"].split(".")[-1], fontsize=8)
        ax.tick_params(labelsize=7)
        if not numeric:
            ax.set_xticks(range(len(groups)), [groups[i]["text"] for i in order])
        ax.grid(alpha=0.3)
        if len(ax.get_legend_handles_labels()[1]) > 1:
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    seeds = summary.get("seeds")
    title = f"sweep of {summary['param']}"
    if error_bars:
        title += f" (mean ± std over seeds {', '.join(map(str, seeds))})" if seeds else " (mean ± std)"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot(summary: dict, path: Path) -> Path:
    """One panel per ``(evaluator, metric)``: the pretrained encoder's value against the swept value (solid),
    the random-init encoder's (dotted) when evaluated; with several seeds, their mean with the sample standard
    deviation as error bars. Numeric values on a numeric axis, others in order. Written atomically."""
    import matplotlib.pyplot as plt

    fig = figure(summary)
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
