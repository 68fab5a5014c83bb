"""Quality at CPU scale: the papers' comparisons, shrunk, over several seeds.

Each suite is a list of example pipelines run as they are (``ssl-core run``
with only ``seed`` and ``output`` overridden), so anyone can reproduce one
row with the pipeline file alone. Suites:

- ``ring`` (CNCE paper, Tables 1 and 2): IR vs IRing, MoCo vs MoCoRing, and
  MoCoRing without annealing and with l = 0 (MoCoBall), on 2,000 CIFAR-10
  JPEGs for 20 epochs, probed on the full test split
  (``examples/pipelines/*_cifar10jpg-200pc.yaml``); linear probe and kNN top-1.
  The ablations are on MoCoRing because IR collapses at this budget.
- ``views``: the ring suite's MoCo with the views made a batch at once (the
  default) against one image at a time with PIL (``views.params.batched=false``):
  the same augmentations, so the same quality within seed noise.
- ``ring_digits``: IR, IRing, MoCo, MoCoRing, IRing without annealing, IBall on
  scikit-learn's 8x8 digits with a small CNN (``examples/pipelines/*_digits.yaml``).
- ``speech`` (CNCE paper, Table 6a): IR, IRing and NAC pretrained on
  LibriSpeech-mini with one-second crops, transferred to FSDD digit / speaker
  and Speech Commands mini; each run also evaluates its own random-init encoder.
- ``hashing`` (NAC paper, Table 3): NAC (p = 0.4) against SimCLR and MoCo sign
  codes, 128 bits, CIFAR-10 retrieval protocol; mAP@all.
- ``la``: Local Aggregation's CPU pipeline against its own random-init encoder.
- ``hashing_digits``: the quick start's NAC and SimCLR at the same budget on
  the digits.

``--validate`` runs a suite's grid (one per method where they differ) on its
validation protocol, drawn from the training split alone, and writes
``quality_<suite>_validation.md``; the chosen values go into the pipelines.

Runs are independent subprocesses, ``--jobs`` at a time, each with
``--threads`` torch threads; a finished run (``results.json`` present) is
not run again, so an interrupted benchmark continues where it stopped.
The table (mean, sample standard deviation and every seed's value; the
random-initialised encoder of the first run that evaluated one as a reference) and the paired
differences per seed (``pairs``; ``random init`` as the baseline means each run's own starting weights)
are printed and written to ``benchmarks/results/quality_<suite>.md``. No hyper-parameter was chosen
on the test split: the pipelines keep the papers' recipes, shrunk in data, width and epochs, or
take what ``--validate`` chose on training data.

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

RANDOM_INIT = "random init"
"""A pair's baseline that means: the same run's randomly initialised encoder (its own starting weights)."""

SUITES = {
    "ring": {
        "runs": [(name, f"{method}_resnet18-w0.25_1xb128-steplr-20e_cifar10jpg-200pc.yaml") for name, method in [
            ("IR", "ir"), ("IRing", "iring"), ("MoCo", "moco"), ("MoCoRing", "mocoring"),
            ("MoCoRing, no annealing", "mocoring-noanneal"), ("MoCoBall (MoCoRing with l = 0)", "mocoball")]],
        "metrics": ["linear_probe/top1", "knn/top1"],
        "pairs": [("IRing", "IR"), ("MoCoRing", "MoCo"), ("MoCoRing", "MoCoRing, no annealing"),
                  ("MoCoRing", "MoCoBall (MoCoRing with l = 0)")],
        "title": "Ring at CPU scale: IR vs IRing, MoCo vs MoCoRing and the Table 2 ablations (CIFAR-10 JPEGs, "
                 "2,000 training images, 20 epochs, full 10,000-image test split)",
    },
    "views": {
        "runs": [("MoCo, batched views", "moco_resnet18-w0.25_1xb128-steplr-20e_cifar10jpg-200pc.yaml"),
                 ("MoCo, per-image PIL views", "moco_resnet18-w0.25_1xb128-steplr-20e_cifar10jpg-200pc.yaml")],
        "overrides": {"MoCo, per-image PIL views": ("pil-views", ["views.params.batched=false"])},
        "metrics": ["linear_probe/top1", "knn/top1"],
        "pairs": [("MoCo, batched views", "MoCo, per-image PIL views")],
        "title": "Batched views against per-image PIL views: the ring suite's MoCo pipeline trained both ways",
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
        "runs": [("IR", "ir_resnet18-w0.25_1xb32-constlr-40e_librispeech-mini-1s.yaml"),
                 ("IRing", "iring_resnet18-w0.25_1xb32-constlr-40e_librispeech-mini-1s.yaml"),
                 ("NAC", "nac_resnet18-w0.25_1xb32-coslr-40e_librispeech-mini-1s.yaml")],
        "metrics": ["transfer/*top1"],
        # every run also evaluates its own starting weights, so that "above the random-init encoder" is a
        # paired difference per seed (same initial weights, same probe)
        "baseline_every_seed": True,
        "pairs": [("IRing", "IR"), ("IR", RANDOM_INIT), ("IRing", RANDOM_INIT), ("NAC", RANDOM_INIT)],
        "title": "Speech at CPU scale: IR, IRing and NAC pretrained on LibriSpeech-mini (one-second crops), "
                 "transfer top-1 against each run's own random-init encoder",
    },
    "hashing": {
        "runs": [("NAC (p = 0.4)", "nac-p0.4_resnet18-w0.25_1xb256-coslr-15e_cifar10jpg-hashing.yaml"),
                 ("SimCLR", "simclr_resnet18-w0.25_1xb256-coslr-15e_cifar10jpg-hashing.yaml"),
                 ("MoCo", "moco_resnet18-w0.25_1xb256-coslr-15e_cifar10jpg-hashing.yaml")],
        "metrics": ["hash_retrieval/map_at_all", "code_statistics/distinct_codewords", "code_statistics/constant_bits"],
        "pairs": [("NAC (p = 0.4)", "SimCLR"), ("NAC (p = 0.4)", "MoCo")],
        "title": "Hashing at CPU scale: 128-bit codes, the full CIFAR-10 retrieval protocol (CIFAR-10 JPEGs)",
        # Hyper-parameters are chosen on the training images alone: 100 of each class's 500 are the queries,
        # the other 4,000 the database (the 10,000 test queries are never seen).
        "validation": {
            "evaluate": "[{name: hash_retrieval, params: {protocol: per_class, pool_splits: [train], "
                        "queries_per_class: 100, train_per_class: 0, seed: 1, plot: false}, "
                        "data: {dataset: retrieval_subset, params: {dataset: image_folder, params: "
                        "{root: ../shared/data/cifar10-jpg}, pool_splits: [train, test], queries_per_class: 1000, "
                        "train_per_class: 500, seed: 0}}}]",
            "metric": "hash_retrieval/map_at_all",
            "grid": {"train.optimizer.lr": [1.0e-3, 3.0e-3]},
        },
    },
    "la": {
        "runs": [("LA", "la_resnet18-w0.25_1xb128-steplr-12e_cifar10jpg-300pc.yaml")],
        "metrics": ["linear_probe/top1", "knn/top1"],
        "baseline_every_seed": True,
        "pairs": [("LA", RANDOM_INIT)],
        "title": "Local Aggregation at CPU scale (CIFAR-10 JPEGs, 3,000 images, 12 epochs) against its own random init",
    },
    "hashing_digits": {
        "runs": [("NAC", "nac_smallcnn32_1xb128-coslr-12e_digits.yaml"),
                 ("SimCLR", "simclr_smallcnn32_1xb128-coslr-12e_digits.yaml")],
        "metrics": ["hash_retrieval/map_at_all", "linear_probe/top1", "knn/top1"],
        "pairs": [("NAC", "SimCLR")],
        "title": "The quick start's protocol: NAC and SimCLR on the 8x8 digits at the same budget (12 epochs), "
                 "128-bit hash codes, linear probe and kNN",
        # Chosen on the training digits alone: 30 of each class's ~144 are the queries, the rest the database.
        "validation": {
            "evaluate": "[{name: hash_retrieval, params: {protocol: per_class, pool_splits: [train], "
                        "queries_per_class: 30, train_per_class: 0, seed: 1, plot: false}}]",
            "metric": "hash_retrieval/map_at_all",
            "grids": {"NAC": {"objective.params.p": [0.1, 0.4], "objective.params.scale_by_sqrt_dim": [False, True],
                              "objective.params.mask_self_partner": [False, True]},
                      "SimCLR": {"objective.params.temperature": [0.5, 0.2]}},
        },
    },
}


def variant(spec: dict, name: str) -> tuple[str, list[str]]:
    """A run's tag and its overrides beyond ``seed`` and ``output`` (``("", [])`` for the pipeline as committed)."""
    tag, overrides = spec.get("overrides", {}).get(name, ("", []))
    return tag, list(overrides)


def run_folder(spec: dict, name: str, seed: int, out_root: Path) -> Path:
    """Where one method's run at one seed writes: ``<pipeline stem>[-<tag>]_s<seed>``."""
    tag, _ = variant(spec, name)
    return out_root / f"{Path(dict(spec['runs'])[name]).stem}{'-' + tag if tag else ''}_s{seed}"


def wall_key(spec: dict, name: str) -> str:
    """The key of a method's wall times: its pipeline file, and its tag when it has overrides."""
    tag, _ = variant(spec, name)
    return dict(spec["runs"])[name] + (f"+{tag}" if tag else "")


def run_one(pipeline: Path, seed: int, out: Path, threads: int, baseline: bool, log: Path,
            overrides: tuple[str, ...] = ()) -> float:
    """Train and evaluate one pipeline at one seed in a subprocess; its wall time in seconds (0 if done before)."""
    if (out / "results.json").exists():
        return 0.0
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-c", f"import torch; torch.set_num_threads({threads}); "
               "from ssl_core.cli import main; raise SystemExit(main())",
               "run", str(pipeline), f"seed={seed}", f"output={out}", *overrides]
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
            path = run_folder(spec, name, seed, out_root) / "results.json"
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
        times = [walls[(wall_key(spec, name), s)] for s in seeds if walls.get((wall_key(spec, name), s))]
        minutes = f"{statistics.fmean(times) / 60:.1f}" if times else "-"
        overrides = " ".join(variant(spec, name)[1])
        pipeline = f"`{file}`" + (f" `{overrides}`" if overrides else "")
        lines.append(f"| {name} | {pipeline} | " + " | ".join(cell(rows.get(name, {}).get(m, [])) for m in metrics)
                     + f" | {minutes} |")
    if reference:
        lines.append(f"| random-init encoder ({reference_of}; {reference_kind}) | - | "
                     + " | ".join(f"{reference[m]:.3f}" if m in reference else "-" for m in metrics) + " | - |")
    paired = paired_differences(spec, seeds, out_root, metrics)
    machine = f"{platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()}"
    total = sum(walls.get((wall_key(spec, name), s), 0.0) for name, _ in spec["runs"] for s in seeds)
    commits = sorted({c for c in commits if c})
    return "\n\n".join([
        f"# {spec['title']}",
        f"`python benchmarks/quality.py --suite {suite} --seeds {' '.join(map(str, seeds))}`; machine: {machine}; "
        f"{args.threads} torch thread(s) per run; ssl-core commit(s) {', '.join(c[:7] for c in commits) or 'n/a'} "
        "(the pipeline files and the training code are the same in all).",
        "Cells: mean ± sample standard deviation over seeds (each seed's value in brackets). Every run is the "
        "pipeline file as committed with only `seed` and `output` overridden (and the overrides its row names); "
        "minutes are wall time per run "
        "(training and evaluation) while other runs and jobs shared the 2 cores, so they are an upper bound. "
        "A dash: not run within the budget.",
        "\n".join(lines),
        *paired,
        f"Sum of the runs' wall times: {total / 60:.0f} min.",
    ])


def seed_values(spec: dict, name: str, seed: int, out_root: Path, metric: str,
                encoder: str = "pretrained") -> float | None:
    """One method's value of ``metric`` at one seed for ``encoder`` (``None`` if that run is missing)."""
    path = run_folder(spec, name, seed, out_root) / "results.json"
    if not path.exists():
        return None
    return metric_values(json.loads(path.read_text()), [metric], encoder).get(metric)


def paired_differences(spec: dict, seeds: list[int], out_root: Path, metrics: list[str]) -> list[str]:
    """Per seed, ``method - baseline`` for every pair of the suite: the seed's own difference, mean and range."""
    if not spec.get("pairs"):
        return []
    headline = [m for m in metrics if not m.startswith("code_statistics/")]
    lines = ["| difference | metric | per seed | mean | range | seeds above 0 |", "|---|---|---|---:|---|---:|"]
    for method, baseline in spec["pairs"]:
        for metric in headline:
            diffs = []
            for seed in seeds:
                a = seed_values(spec, method, seed, out_root, metric)
                b = (seed_values(spec, method, seed, out_root, metric, RANDOM_INIT) if baseline == RANDOM_INIT
                     else seed_values(spec, baseline, seed, out_root, metric))
                if a is not None and b is not None:
                    diffs.append((seed, a - b))
            if not diffs:
                continue
            values = [d for _, d in diffs]
            against = f"{method}'s own random init" if baseline == RANDOM_INIT else baseline
            lines.append(f"| {method} - {against} | {metric} | " + ", ".join(f"s{s}: {d:+.3f}" for s, d in diffs)
                         + f" | {statistics.fmean(values):+.3f} | [{min(values):+.3f}, {max(values):+.3f}] | "
                         f"{sum(v > 0 for v in values)}/{len(values)} |")
    return ["Paired differences (same seed: same initial weights, data order and views for both methods; "
            "against a run's own random init: the same run's starting weights through the same evaluators):",
            "\n".join(lines)]


def grid_points(grid: dict) -> list[dict]:
    """Every combination of the grid's values, as ``{key: value}``."""
    points = [{}]
    for key, values in grid.items():
        points = [{**p, key: v} for p in points for v in values]
    return points


def method_grid(val: dict, name: str) -> dict:
    """The validation grid of one method: ``val["grids"][name]`` if the suite gives one per method, else ``val["grid"]``."""
    return val["grids"][name] if "grids" in val else val["grid"]


def validate(suite: str, spec: dict, args, out_root: Path, log: Path) -> None:
    """Each method at every grid point (seed 0), scored on the suite's validation protocol; best per method."""
    val = spec["validation"]
    tasks = [(name, file, point) for name, file in spec["runs"] for point in grid_points(method_grid(val, name))
             if not args.only or file in args.only]

    def out_of(file, point):
        tag = "_".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.items())
        return out_root / "validation" / f"{Path(file).stem}_{tag}"

    def work(task):
        name, file, point = task
        overrides = (f"evaluate={val['evaluate']}", "eval_options.random_init_baseline=false",
                     *(f"{k}={v}" for k, v in point.items()))
        print(f"[quality] validation {file} {point} ...", flush=True)
        seconds = run_one(PIPELINES / file, 0, out_of(file, point), args.threads, False, log, overrides)
        print(f"[quality] validation {file} {point}: {seconds / 60:.1f} min", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(work, t) for t in tasks]:
            future.result()
    lines = [f"| method | grid point | validation {val['metric']} | chosen |", "|---|---|---:|---|"]
    for name, file in spec["runs"]:
        scores = []
        for point in grid_points(method_grid(val, name)):
            path = out_of(file, point) / "results.json"
            if path.exists():
                value = metric_values(json.loads(path.read_text()), [val["metric"]], "pretrained")[val["metric"]]
                scores.append((value, point))
        best = max(scores, key=lambda s: s[0])[1] if scores else None
        for value, point in scores:
            lines.append(f"| {name} | " + ", ".join(f"`{k}={v}`" for k, v in point.items()) + f" | {value:.4f} | "
                         + ("**yes**" if point == best else "") + " |")
    text = "\n\n".join([
        f"# Validation for the {suite} suite: hyper-parameters chosen on the training data alone",
        f"`python benchmarks/quality.py --suite {suite} --validate`; seed 0; each method's pipeline file with only "
        "the grid's keys, `seed`, `output` and `evaluate` overridden. The validation protocol (the `evaluate` "
        f"override) is `{val['evaluate']}`: its queries and database are both drawn from the training split, so "
        "the test queries are never seen. The chosen value is written into each pipeline file.",
        "\n".join(lines)])
    print(text)
    (RESULTS / f"quality_{suite}_validation.md").write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=list(SUITES), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", help="run only these pipeline files of the suite")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "quality")
    parser.add_argument("--validate", action="store_true",
                        help="choose hyper-parameters: run the suite's grid on its validation protocol (seed 0)")
    args = parser.parse_args()
    spec = SUITES[args.suite]
    if args.validate and "validation" not in spec:
        raise SystemExit(f"suite {args.suite} has no validation protocol; suites with one: "
                         f"{', '.join(k for k, v in SUITES.items() if 'validation' in v)}")
    missing = [f for _, f in spec["runs"] if not (PIPELINES / f).exists()]
    if missing:
        raise SystemExit(f"pipeline files missing from {PIPELINES}: {', '.join(missing)}")
    out_root = args.runs_dir / args.suite
    out_root.mkdir(parents=True, exist_ok=True)
    log = out_root / "runs.log"
    began = time.time()
    if args.validate:
        RESULTS.mkdir(exist_ok=True)
        validate(args.suite, spec, args, out_root, log)
        return
    tasks = [(name, seed) for seed in args.seeds for name, file in spec["runs"] if not args.only or file in args.only]
    walls_path = out_root / "wall_times.json"
    walls = {tuple(k.split("|")): v for k, v in json.loads(walls_path.read_text()).items()} if walls_path.exists() else {}
    walls = {(f, int(s)): v for (f, s), v in walls.items()}

    def work(task):
        name, seed = task
        file, (tag, overrides) = dict(spec["runs"])[name], variant(spec, name)
        what = f"{file} {tag}".strip()
        print(f"[quality] {what} seed {seed} ...", flush=True)
        baseline = seed == args.seeds[0] or spec.get("baseline_every_seed", False)
        seconds = run_one(PIPELINES / file, seed, run_folder(spec, name, seed, out_root), args.threads, baseline, log,
                          tuple(overrides))
        if seconds:
            walls[(wall_key(spec, name), seed)] = seconds
            walls_path.write_text(json.dumps({f"{f}|{s}": v for (f, s), v in walls.items()}, indent=1))
        print(f"[quality] {what} seed {seed}: {seconds / 60:.1f} min", flush=True)

    with ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(work, t) for t in tasks]:
            future.result()
    text = report(args.suite, spec, args.seeds, out_root, walls, began, args)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"quality_{args.suite}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
