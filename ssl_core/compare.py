"""``ssl-core compare``: one table of every metric across runs, flagging mismatched protocols."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402



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


def compare(run_dirs: list[Path]) -> dict:
    """Rows ``(evaluator, metric, encoder)`` x runs, and the protocol differences per evaluator."""
    runs = [load_results(d) for d in run_dirs]
    infos = [describe_run(r) for r in runs]
    names = [f"{info['run']}" if [i["run"] for i in infos].count(info["run"]) == 1 else str(d) for info, d in zip(infos, run_dirs)]
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
    return {"runs": names, "infos": infos, "table": table, "mismatches": mismatches}


def to_markdown(comparison: dict) -> str:
    runs, mismatches = comparison["runs"], comparison["mismatches"]
    lines = ["# Comparison", "", "| run | method | encoder | epochs | data | seed |", "|---|---|---|---|---|---|"]
    lines += [f"| {n} | {i['method']} | {i['encoder']} | {i['epochs']} | {i['data']} | {i['seed']} |"
              for n, i in zip(runs, comparison["infos"])]
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


def to_csv(comparison: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["evaluator", "metric", "encoder", "protocol_mismatch", *comparison["runs"]])
    for (evaluator, metric, encoder), values in comparison["table"].items():
        writer.writerow([evaluator, metric, encoder, evaluator in comparison["mismatches"],
                         *[values.get(r, "") for r in comparison["runs"]]])
    return out.getvalue()


def bar_chart(comparison: dict, out: Path) -> Path:
    """Grouped bars: one group per (evaluator, metric, encoder), one bar per run; mismatched groups hatched."""
    rows = list(comparison["table"].items())
    runs = comparison["runs"]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(rows) * max(1, len(runs)) / 2), 4))
    width = 0.8 / max(1, len(runs))
    for j, run in enumerate(runs):
        xs = [i + j * width for i in range(len(rows))]
        ys = [values.get(run, 0.0) for _, values in rows]
        bars = ax.bar(xs, ys, width, label=run)
        for bar, ((evaluator, _, _), _) in zip(bars, rows):
            if evaluator in comparison["mismatches"]:
                bar.set_hatch("//")
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
    ax.set_xticklabels([f"{e}\n{m}\n{enc}" for (e, m, enc), _ in rows], fontsize=7)
    ax.legend(fontsize=8)
    ax.set_title("comparison (hatched: protocols differ)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_comparison(run_dirs: list[Path], out_dir: Path) -> dict:
    """Write ``comparison.md``, ``comparison.csv`` and ``comparison.png`` into ``out_dir``."""
    comparison = compare([Path(d) for d in run_dirs])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.md").write_text(to_markdown(comparison))
    (out_dir / "comparison.csv").write_text(to_csv(comparison))
    bar_chart(comparison, out_dir / "comparison.png")
    return comparison
