"""Start-up time of the ``ssl-core`` command: a config error, ``plugins``, ``validate``, before and after lazy imports.

"Before" is the command as it started up until now: torchvision, lightly's
heads and Lightning imported eagerly (by the encoder and objective plugins and
by ``ssl_core.harness`` / ``ssl_core.run`` before the pipeline file was read).
It is reproduced here by importing those modules first, then calling the same
``main``. "After" is the command as it is. Both run in fresh processes,
interleaved (before, after, after, before, ...), and the median of the rounds
is reported, wall and CPU (user + system) seconds, side by side in one run.

    python benchmarks/cli_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
EAGER = "import torchvision, lightly.models.modules.heads, pytorch_lightning"
"""What the command imported before reading a pipeline file or listing the plugins."""


def timed(argv: list[str], eager: bool, env: dict, expected: int) -> tuple[float, float]:
    """(wall, CPU) seconds of ``ssl-core argv`` in a fresh interpreter (``eager``: today's imports first)."""
    code = (f"{EAGER}\n" if eager else "") + f"import sys\nfrom ssl_core.cli import main\nsys.exit(main({argv!r}))"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, cwd=tempfile.gettempdir(), check=False, timeout=300)
    if done.returncode != expected:
        raise SystemExit(f"ssl-core {argv} exited with {done.returncode}, expected {expected}: {done.stderr[-500:]}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"), str(ROOT / "modalities")]),
                        "OMP_NUM_THREADS": "1"}
    typo = Path(tempfile.mkdtemp()) / "typo.yaml"
    text = (ROOT / "examples/pipelines/nac_smallcnn32_1xb128-coslr-12e_digits.yaml").read_text()
    assert "\n  epochs: " in text
    typo.write_text(text.replace("\n  epochs: ", "\n  epoch: ", 1))  # train.epochs misspelt
    digits = str(ROOT / "examples/pipelines/nac_smallcnn32_1xb128-coslr-12e_digits.yaml")
    commands = {
        "config error (`run` with a typo)": (["run", str(typo)], 2),
        "`plugins`": (["plugins"], 0),
        "`validate nac_smallcnn32_1xb128-coslr-12e_digits.yaml` (new; builds data, views, encoder, objective)": (["validate", digits, f"output={tempfile.mkdtemp()}/v"], 0),
        "`--version` (new: before is the eager imports alone)": (["--version"], 0),
    }
    rows = []
    for label, (argv, expected) in commands.items():
        times = {True: [], False: []}
        for r in range(args.rounds):
            for eager in ((True, False) if r % 2 == 0 else (False, True)):
                times[eager].append(timed(argv, eager, env, expected))
        med = {e: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts)) for e, ts in times.items()}
        rows.append((label, med[True], med[False]))
        print(f"{label}: before {med[True][0]:.2f} s wall / {med[True][1]:.2f} s CPU, "
              f"after {med[False][0]:.2f} s / {med[False][1]:.2f} s", flush=True)

    from bench_report import machine, publish

    lines = ["# CLI start-up", "",
             f"Median of {args.rounds} fresh processes each, before and after interleaved; `python "
             "benchmarks/cli_startup.py`. Before: torchvision, lightly's heads and Lightning imported first, as the "
             "command did until the plugins imported them only when a component is built and `run` read the pipeline "
             "file before importing Lightning. Goal: a config error and `plugins` in <= 3 s.", "",
             "| command | before: wall | before: CPU | after: wall | after: CPU | after / before (CPU) |",
             "|---|---|---|---|---|---|"]
    for label, before, after in rows:
        lines.append(f"| {label} | {before[0]:.2f} s | {before[1]:.2f} s | {after[0]:.2f} s | {after[1]:.2f} s | "
                     f"{after[1] / before[1]:.2f}x |")
    lines += ["", f"Machine: {machine(load_before)}."]
    publish("\n".join(lines), ROOT / "benchmarks/results/cli_startup.md")


if __name__ == "__main__":
    main()
