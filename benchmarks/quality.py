"""Quality at CPU scale: the papers' comparisons, shrunk, over several seeds.

Each suite is a list of example pipelines run as they are (``ssl-core run``
with only ``seed`` and ``output`` overridden), so anyone can reproduce one
row with the pipeline file alone. Suites:

- ``ring`` (CNCE paper, Tables 1 and 2): IR vs IRing, MoCo vs MoCoRing, and
  IRing without annealing and with l = 0 (IBall), on the CIFAR-10 JPEGs
  (``examples/pipelines/*_cifar10jpg-300pc.yaml``); linear probe and kNN top-1.
- ``ring_digits``: the same six on scikit-learn's 8x8 digits with a small CNN
  (``examples/pipelines/*_digits.yaml``), where every method learns within a
  minute of CPU, so that several seeds fit a CPU budget.
- ``speech`` (CNCE paper, Table 6a): IR vs IRing pretrained on LibriSpeech-mini,
  transferred to FSDD digit / speaker and Speech Commands mini.
- ``hashing`` (NAC paper, Table 3): NAC (p = 0.4) against SimCLR and MoCo sign
  codes, 128 bits, CIFAR-10 retrieval protocol; mAP@all.

Runs are independent subprocesses, ``--jobs`` at a time, each with
``--threads`` torch threads; a finished run (``results.json`` present) is
not run again, so an interrupted benchmark continues where it stopped.
The table (mean, sample standard deviation and every seed's value; the
random-initialised encoder of the first run that evaluated one as a reference) is printed and written
to ``benchmarks/results/quality_<suite>.md``. No hyper-parameter was chosen
on the test split: the pipelines keep the papers' recipes, shrunk in data,
width and epochs.

Run from the project's root: ``python benchmarks/quality.py --suite ring``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PIPELINES = ROOT / "examples" / "pipelines"

SUITES = {
    "ring": {
        "runs": [("IR", "ir_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc.yaml"), ("IRing", "iring_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc.yaml"),
                 ("MoCo", "moco_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc.yaml"), ("MoCoRing", "mocoring_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc.yaml"),
                 ("IRing, no annealing", "iring-noanneal_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc.yaml"),
                 ("IBall (IRing with l = 0)", "iball_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc.yaml")],
        "metrics": ["linear_probe/top1", "knn/top1"],
        "title": "Ring at CPU scale: IR vs IRing, MoCo vs MoCoRing and the Table 2 ablations (CIFAR-10 JPEGs)",
    },
    "ring_digits": {
        "runs": [("IR", "ir_smallcnn32_1xb128-coslr-20e_digits.yaml"), ("IRing", "iring_smallcnn32_1xb128-coslr-20e_digits.yaml"),
                 ("MoCo", "moco_smallcnn32_1xb128-coslr-20e_digits.yaml"), ("MoCoRing", "mocoring_smallcnn32_1xb128-coslr-20e_digits.yaml"),
                 ("IRing, no annealing", "iring-noanneal_smallcnn32_1xb128-coslr-20e_digits.yaml"),
                 ("IBall (IRing with l = 0)", "iball_smallcnn32_1xb128-coslr-20e_digits.yaml")],
        "metrics": ["linear_probe/top1", "knn/top1"],
        "title": "Ring on 8x8 digits: IR vs IRing, MoCo vs MoCoRing and the Table 2 ablations, small CNN",
    },
    "speech": {
        "runs": [("IR", "ir_resnet18-w0.25_1xb32-constlr-8e_librispeech-mini.yaml"), ("IRing", "iring_resnet18-w0.25_1xb32-constlr-8e_librispeech-mini.yaml")],
        "metrics": ["transfer/*top1"],
        "title": "Speech at CPU scale: IR vs IRing pretrained on LibriSpeech-mini, transfer top-1",
    },
    "hashing": {
        "runs": [("NAC (p = 0.4)", "nac-p0.4_vgg16bn-w0.25_1xb128-coslr-15e_cifar10jpg-600pc-hashing.yaml"), ("SimCLR", "simclr_vgg16bn-w0.25_1xb128-coslr-15e_cifar10jpg-600pc-hashing.yaml"),
                 ("MoCo", "moco_vgg16bn-w0.25_1xb128-coslr-15e_cifar10jpg-600pc-hashing.yaml")],
        "metrics": ["hash_retrieval/map_at_all"],
        "title": "Hashing at CPU scale: 128-bit codes, CIFAR-10 retrieval protocol (CIFAR-10 JPEGs)",
    },
}


def run_one(pipeline: Path, seed: int, out: Path, threads: int, baseline: bool, log: Path) -> float:
    """Train and evaluate one pipeline at one seed in a subprocess; its wall time in seconds (0 if done before)."""
    if (out / "results.json").exists():
        return 0.0
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-c", f"import torch; torch.set_num_threads({threads}); "
               "from ssl_core.cli import main; raise SystemExit(main())",
               "run", str(pipeline), f"seed={seed}", f"output={out}"]
    if baseline:
        command.append("eval_options.random_init_baseline=true")
    if out.exists():
        command.insert(4, "--resume")
    started = time.time()
    with log.open("a") as handle:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{pipeline.name} seed {seed} failed (exit {done.returncode}); see {log}")
    return time.time() - started


def metric_values(results: dict, patterns: list[str], encoder: str) -> dict[str, float]:
    """``evaluator/metric`` values of one encoder matching the patterns (``*`` matches any task prefix)."""
    values = {}
    for record in results["evaluations"]:
        if record["encoder"] != encoder:
            continue
        for metric, value in record["metrics"].items():
            key = f"{record['evaluator']}/{metric}"
            for pattern in patterns:
                head, _, tail = pattern.partition("*")
                if (key == pattern) or ("*" in pattern and key.startswith(head) and key.endswith(tail)):
                    values[key] = float(value)
    return values


def cell(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
    return f"{mean:.3f}{spread} ({', '.join(f'{v:.3f}' for v in values)})"


def report(suite: str, spec: dict, seeds: list[int], out_root: Path, walls: dict, began: float, args) -> str:
    rows, metrics = {}, []
    reference, reference_kind, reference_of, recalibrated = {}, "", "", False
    commits: set = set()
    for name, file in spec["runs"]:
        for seed in seeds:
            path = out_root / f"{Path(file).stem}_s{seed}" / "results.json"
            if not path.exists():
                continue
            results = json.loads(path.read_text())
            commits.add(results.get("git_commit"))
            for key, value in metric_values(results, spec["metrics"], "pretrained").items():
                rows.setdefault(name, {}).setdefault(key, []).append(value)
                if key not in metrics:
                    metrics.append(key)
            has_baseline = any(r["encoder"] == "random init" for r in results["evaluations"])
            # the first run with a random-init baseline, preferring one whose BatchNorm statistics were re-estimated
            if has_baseline and (not reference or (results.get("random_init") and not recalibrated)):
                recalibrated = bool(results.get("random_init"))
                reference = metric_values(results, spec["metrics"], "random init")
                reference_kind = ("BatchNorm statistics re-estimated on the training data" if results.get("random_init")
                                  else "BatchNorm statistics at their initial values, as evaluated before the "
                                  "baseline re-estimated them")
                reference_of = f"`{file}` seed {seed}"
    lines = ["| method | pipeline | " + " | ".join(metrics) + " | minutes per run (mean) |",
             "|---|---|" + "---|" * len(metrics) + "---:|"]
    for name, file in spec["runs"]:
        times = [walls[(file, s)] for s in seeds if walls.get((file, s))]
        minutes = f"{statistics.fmean(times) / 60:.1f}" if times else "-"
        lines.append(f"| {name} | `{file}` | " + " | ".join(cell(rows.get(name, {}).get(m, [])) for m in metrics)
                     + f" | {minutes} |")
    if reference:
        lines.append(f"| random-init encoder ({reference_of}; {reference_kind}) | - | "
                     + " | ".join(f"{reference[m]:.3f}" if m in reference else "-" for m in metrics) + " | - |")
    machine = f"{platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}"
    total = sum(walls.get((file, s), 0.0) for _, file in spec["runs"] for s in seeds)
    commits = sorted({c for c in commits if c})
    return "\n\n".join([
        f"# {spec['title']}",
        f"`python benchmarks/quality.py --suite {suite} --seeds {' '.join(map(str, seeds))}`; machine: {machine}; "
        f"{args.threads} torch thread(s) per run; ssl-core commit(s) {', '.join(c[:7] for c in commits) or 'n/a'} "
        "(the pipeline files and the training code are the same in all).",
        "Cells: mean ± sample standard deviation over seeds (each seed's value in brackets). Every run is the "
        "pipeline file as committed with only `seed` and `output` overridden; minutes are wall time per run "
        "(training and evaluation) while other runs and jobs shared the 2 cores, so they are an upper bound. "
        "A dash: not run within the budget.",
        "\n".join(lines),
        f"Sum of the runs' wall times: {total / 60:.0f} min.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=list(SUITES), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", help="run only these pipeline files of the suite")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "quality")
    args = parser.parse_args()
    spec = SUITES[args.suite]
    missing = [f for _, f in spec["runs"] if not (PIPELINES / f).exists()]
    if missing:
        raise SystemExit(f"pipeline files missing from {PIPELINES}: {', '.join(missing)}")
    out_root = args.runs_dir / args.suite
    out_root.mkdir(parents=True, exist_ok=True)
    log = out_root / "runs.log"
    began = time.time()
    tasks = [(file, seed) for seed in args.seeds for _, file in spec["runs"] if not args.only or file in args.only]
    walls_path = out_root / "wall_times.json"
    walls = {tuple(k.split("|")): v for k, v in json.loads(walls_path.read_text()).items()} if walls_path.exists() else {}
    walls = {(f, int(s)): v for (f, s), v in walls.items()}

    def work(task):
        file, seed = task
        out = out_root / f"{Path(file).stem}_s{seed}"
        print(f"[quality] {file} seed {seed} ...", flush=True)
        seconds = run_one(PIPELINES / file, seed, out, args.threads, seed == args.seeds[0], log)
        if seconds:
            walls[(file, seed)] = seconds
            walls_path.write_text(json.dumps({f"{f}|{s}": v for (f, s), v in walls.items()}, indent=1))
        print(f"[quality] {file} seed {seed}: {seconds / 60:.1f} min", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(work, t) for t in tasks]:
            future.result()
    text = report(args.suite, spec, args.seeds, out_root, walls, began, args)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"quality_{args.suite}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
