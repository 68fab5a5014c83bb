"""``ssl-core compare``: one table of every metric across runs, flagging mismatched protocols."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ssl_core.atomic_write import atomic_savefig, atomic_write_text  # noqa: E402


def load_results(run_dir: Path) -> dict:
    path = Path(run_dir) / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"no results at {path}: evaluate the run first (ssl-core eval {run_dir})")
    return json.loads(path.read_text())


def describe_run(results: dict) -> dict:
    """Method, encoder, epochs and data of a run, from its resolved pipeline."""
    p = results["pipeline"]
    negatives = p["objective"].get("negatives") or {}
    method = p["objective"]["name"]
    if negatives.get("select"):
        method += f" + {negatives['select']['name']}"
    if negatives.get("source"):
        method += f" ({negatives['source']['name']})"
    return {"run": results["run"], "method": method, "encoder": p["encoder"]["name"], "epochs": p["train"]["epochs"],
            "data": p["data"]["dataset"], "seed": results["seed"]}


def protocol_of(results: dict, record: dict) -> dict:
    """What defines how a number was obtained: the evaluator's protocol and the evaluation data.

    The protocol entries the evaluator's result names in ``outcomes`` (a chosen
    learning rate, the feature size of the encoder, the run's own files ...)
    are results of the run, not part of how it was evaluated, and are left out.
    """
    outcomes = set(record.get("outcomes", ()))
    protocol = {k: v for k, v in record["protocol"].items() if k not in outcomes}
    data = record.get("data") or results["pipeline"]["data"]  # the evaluator's own data, if it had some
    return protocol | {"eval_data": f"{data['dataset']} {json.dumps(data['params'], sort_keys=True)}"}


IGNORED_SETTINGS = {"name", "output"}
"""Pipeline keys that differ between any two runs by construction; not listed as differences."""


def flatten(values, prefix: str = "") -> dict[str, object]:
    """A nested pipeline as ``{dotted.key: value}``; lists of components keep their index (``evaluate.0.params.k``)."""
    if isinstance(values, dict):
        items = values.items()
    elif isinstance(values, list) and any(isinstance(v, (dict, list)) for v in values):
        items = ((str(i), v) for i, v in enumerate(values))
    else:
        return {prefix: values}
    out: dict[str, object] = {}
    for key, value in items:
        out |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def differing_settings(runs: list[dict], names: list[str]) -> dict[str, dict[str, object]]:
    """``{dotted key: {run: value}}`` for every pipeline setting whose value is not the same in all runs."""
    flat = [flatten(r.get("pipeline", {})) for r in runs]
    keys = sorted({k for f in flat for k in f} - IGNORED_SETTINGS)
    return {k: {name: f.get(k, "—") for name, f in zip(names, flat)} for k in keys
            if len({json.dumps(f.get(k, "—"), sort_keys=True, default=str) for f in flat}) > 1}


def compare(run_dirs: list[Path]) -> dict:
    """Rows ``(evaluator, metric, encoder)`` x runs, and the protocol differences per evaluator."""
    runs = [load_results(d) for d in run_dirs]
    infos = [describe_run(r) for r in runs]
    folders = [Path(d).name for d in run_dirs]
    unique_folders = len(set(folders)) == len(folders)
    names = [info["run"] if [i["run"] for i in infos].count(info["run"]) == 1
             else (folder if unique_folders else str(d)) for info, folder, d in zip(infos, folders, run_dirs)]
    table: dict[tuple, dict[str, float]] = {}
    protocols: dict[str, dict[str, dict]] = {}
    for name, results in zip(names, runs):
        for record in results["evaluations"]:
            protocols.setdefault(record["evaluator"], {}).setdefault(name, protocol_of(results, record))
            for metric, value in record["metrics"].items():
                table.setdefault((record["evaluator"], metric, record["encoder"]), {})[name] = value
    mismatches = {}
    for evaluator, by_run in protocols.items():
        keys = sorted({k for p in by_run.values() for k in p})
        differing = {k: {run: by_run[run].get(k) for run in by_run} for k in keys
                     if len({json.dumps(p.get(k), sort_keys=True, default=str) for p in by_run.values()}) > 1}
        if differing:
            mismatches[evaluator] = differing
    return {"runs": names, "infos": infos, "table": table, "mismatches": mismatches,
            "settings": differing_settings(runs, names)}


def to_markdown(comparison: dict) -> str:
    runs, mismatches = comparison["runs"], comparison["mismatches"]
    settings = comparison.get("settings", {})
    shown = {"encoder.name", "train.epochs", "data.dataset", "seed"}  # already columns of their own
    extra = [k for k in settings if k not in shown and not k.startswith("evaluate")]
    lines = ["# Comparison", "", "| run | method | encoder | epochs | data | seed |" + "".join(f" {k} |" for k in extra),
             "|---|---|---|---|---|---|" + "---|" * len(extra)]
    lines += [f"| {n} | {i['method']} | {i['encoder']} | {i['epochs']} | {i['data']} | {i['seed']} |"
              + "".join(f" {_cell(settings[k][n])} |" for k in extra) for n, i in zip(runs, comparison["infos"])]
    if extra:
        lines += ["", "Settings that differ between the runs: " + ", ".join(f"`{k}`" for k in extra) + "."]
    lines += ["", "| evaluator | metric | encoder | " + " | ".join(runs) + " |", "|---|---|---|" + "---|" * len(runs)]
    for (evaluator, metric, encoder), values in comparison["table"].items():
        flag = " (!)" if evaluator in mismatches else ""
        cells = [f"{values[r]:.4f}" if r in values else "—" for r in runs]
        lines.append(f"| {evaluator}{flag} | {metric} | {encoder} | " + " | ".join(cells) + " |")
    if mismatches:
        lines += ["", "## (!) Different protocols: these numbers are not directly comparable", ""]
        for evaluator, differing in mismatches.items():
            for key, by_run in differing.items():
                lines.append(f"- **{evaluator}** `{key}`: " + "; ".join(f"{r}: {v}" for r, v in by_run.items()))
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    return json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


def to_csv(comparison: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["evaluator", "metric", "encoder", "protocol_mismatch", *comparison["runs"]])
    for (evaluator, metric, encoder), values in comparison["table"].items():
        writer.writerow([evaluator, metric, encoder, evaluator in comparison["mismatches"],
                         *[values.get(r, "") for r in comparison["runs"]]])
    for key, by_run in comparison.get("settings", {}).items():  # the settings that differ, one row each
        writer.writerow(["setting", key, "", "", *[_cell(by_run[r]) for r in comparison["runs"]]])
    return out.getvalue()


def bar_chart(comparison: dict, out: Path) -> Path:
    """One panel per (evaluator, metric), one bar per run and encoder, its value written on it; hatched: protocols differ.

    Panels are laid out three to a row, about 4.5 x 3.4 inches each, so labels
    stay legible whatever the number of metrics.
    """
    runs = comparison["runs"]
    panels: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for (evaluator, metric, encoder), values in comparison["table"].items():
        panels.setdefault((evaluator, metric), {})[encoder] = values
    cols = min(3, max(1, len(panels)))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows + 0.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, ((evaluator, metric), by_encoder) in zip(axes.ravel(), panels.items()):
        encoders = list(by_encoder)
        width = 0.8 / len(encoders)
        for j, encoder in enumerate(encoders):
            xs = [i + (j - (len(encoders) - 1) / 2) * width for i in range(len(runs))]
            ys = [by_encoder[encoder].get(run, float("nan")) for run in runs]
            bars = ax.bar(xs, ys, width, label=encoder, color=colours[j % len(colours)],
                          hatch="//" if evaluator in comparison["mismatches"] else None)
            ax.bar_label(bars, fmt="%.3f", fontsize=8)
        ax.set_xticks(range(len(runs)))
        ax.set_xticklabels(runs, fontsize=9, rotation=20 if max(map(len, runs)) > 10 else 0, ha="right"
                           if max(map(len, runs)) > 10 else "center")
        ax.set_title(f"{evaluator}{' (protocols differ)' if evaluator in comparison['mismatches'] else ''}",
                     fontsize=10)
        ax.set_ylabel(metric, fontsize=9)
        ax.margins(y=0.15)
        if len(encoders) > 1:
            ax.legend(fontsize=8)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.suptitle("comparison of " + ", ".join(runs), fontsize=11)
    fig.tight_layout()
    try:
        atomic_savefig(fig, out, dpi=120)
    finally:
        plt.close(fig)
    return out


def default_out(run_dirs: list[Path]) -> Path:
    """Beside the runs: ``comparison/`` in the folder that holds all of them."""
    parents = [Path(d).resolve().parent for d in run_dirs]
    common = Path(os.path.commonpath([str(p) for p in parents]))
    return common / "comparison"


def write_comparison(run_dirs: list[Path], out_dir: Path) -> dict:
    """Write ``comparison.md``, ``comparison.csv`` and ``comparison.png`` into ``out_dir``."""
    comparison = compare([Path(d) for d in run_dirs])
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "comparison.md", to_markdown(comparison))
    atomic_write_text(out_dir / "comparison.csv", to_csv(comparison))
    bar_chart(comparison, out_dir / "comparison.png")
    return comparison
