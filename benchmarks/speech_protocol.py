"""Why speech pretraining fell below its random-init encoder: the two protocol changes, one at a time.

The speech suite of ``quality.py`` pretrains IR, IRing and NAC on LibriSpeech-mini
with one-second crops and probes standardized features (lr chosen on held-out
training data). This script separates the two changes on the same seeds:

- *probe*: the suite's trained run folders evaluated again (``ssl-core eval``,
  nothing retrained) with the paper's probe: raw features, lr 0.01, 30 epochs
  (what the 8-epoch pipelines used), each beside its own random-init encoder;
- *crop*: IRing trained again with the paper's 9.4 s crops (``num_samples``
  150,526 in pretraining and transfer), everything else as the suite's
  pipeline, probed with the suite's standardized probe.

Each cell is a paired difference per seed, method minus its own random init.
Run after ``python benchmarks/quality.py --suite speech`` with the same
``--runs-dir``: ``python benchmarks/speech_protocol.py --runs-dir DIR``.
Writes ``benchmarks/results/speech_protocol.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "speech_protocol.md"
PIPELINES = ROOT / "examples" / "pipelines"
METHODS = {"IR": "ir_resnet18-w0.25_1xb32-constlr-40e_librispeech-mini-1s",
           "IRing": "iring_resnet18-w0.25_1xb32-constlr-40e_librispeech-mini-1s",
           "NAC": "nac_resnet18-w0.25_1xb32-coslr-40e_librispeech-mini-1s"}
TASKS = ["fsdd digit/top1", "fsdd speaker/top1", "speech commands mini/top1"]
PAPER_PROBE = ("[{name: transfer, params: {suite: speech_mini, suite_params: {data_root: ../shared/data, "
               "num_samples: 16000}, layer: prepool, lrs: [0.01], optimizer: sgd, momentum: 0.9, epochs: 30, "
               "augment: false, standardize: false}}]")
LONG_CROPS = ("[{name: transfer, params: {suite: speech_mini, suite_params: {data_root: ../shared/data}, "
              "layer: prepool, lrs: [0.01, 0.1, 1.0], optimizer: sgd, momentum: 0.9, epochs: 100, augment: false, "
              "standardize: true}}]")


def ssl_core(*args: str, threads: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    command = [sys.executable, "-c", f"import torch; torch.set_num_threads({threads}); "
               "from ssl_core.cli import main; raise SystemExit(main())", *args]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def differences(results: Path) -> dict[str, float]:
    """Per task: pretrained minus random init, from one results.json."""
    by = {}
    for record in json.loads(results.read_text())["evaluations"]:
        for key, value in record["metrics"].items():
            by.setdefault(key, {})[record["encoder"]] = value
    return {t: by[t]["pretrained"] - by[t]["random init"] for t in TASKS if t in by and len(by[t]) == 2}


def row(label: str, per_seed: list[dict[str, float]]) -> str:
    cells = []
    for task in TASKS:
        values = [d[task] for d in per_seed if task in d]
        cells.append(f"{statistics.fmean(values):+.3f} ({', '.join(f'{v:+.3f}' for v in values)})" if values else "-")
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "quality")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    speech = args.runs_dir / "speech"
    rows = []
    for name, stem in METHODS.items():
        suite, paper = [], []
        for seed in args.seeds:
            run = speech / f"{stem}_s{seed}"
            if not (run / "results.json").exists():
                raise SystemExit(f"{run} has no results.json: run quality.py --suite speech first")
            out = run / "evaluations" / "paper_probe" / "results.json"
            if not out.exists():
                print(f"[speech_protocol] {name} seed {seed}: the paper's probe ...", flush=True)
                ssl_core("eval", str(run), "--name", "paper_probe", f"evaluate={PAPER_PROBE}",
                         "eval_options.random_init_baseline=true", threads=args.threads)
            suite.append(differences(run / "results.json"))
            paper.append(differences(out))
        rows.append(row(f"{name}, 1 s crops, standardized probe (the suite)", suite))
        rows.append(row(f"{name}, 1 s crops, the paper's probe (raw features, lr 0.01, 30 epochs)", paper))
    long = []
    for seed in args.seeds:
        run = args.runs_dir / "speech_protocol" / f"iring_9.4s_s{seed}"
        if not (run / "results.json").exists():
            print(f"[speech_protocol] IRing seed {seed}: 9.4 s crops ...", flush=True)
            ssl_core("run", str(PIPELINES / f"{METHODS['IRing']}.yaml"), f"seed={seed}", f"output={run}",
                     "data.params.num_samples=150526", f"evaluate={LONG_CROPS}", "train.progress_bar=false",
                     "eval_options.random_init_baseline=true", *(["--resume"] if run.exists() else []),
                     threads=args.threads)
        long.append(differences(run / "results.json"))
    rows.append(row("IRing, the paper's 9.4 s crops, standardized probe", long))
    text = "\n\n".join([
        "# Speech pretraining against its random-init encoder: which protocol change matters",
        f"`python benchmarks/speech_protocol.py --seeds {' '.join(map(str, args.seeds))}`. Each cell: the mean over "
        "seeds of *pretrained minus the same run's random-init encoder* (transfer top-1; each seed's difference "
        "in brackets). Pretraining: LibriSpeech-mini, 40 epochs, the suite's pipelines; transfer: FSDD "
        "(2,700 training / 300 test clips) and Speech Commands mini (249 / 51).",
        "| pretraining and probe | " + " | ".join(TASKS) + " |\n|---|" + "---|" * len(TASKS) + "\n" + "\n".join(rows),
    ])
    print(text)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
