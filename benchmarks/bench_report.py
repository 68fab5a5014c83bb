"""What every benchmark script shares: wall + CPU clocks, the machine line, and publishing a report."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import torch


def clock() -> tuple[float, float]:
    """(wall, CPU) now; CPU time sums this process's threads and is steadier when other processes share the machine."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds elapsed since ``start`` (a :func:`clock` reading)."""
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def timed_step(model, optimizer, views, index) -> tuple[float, float]:
    """One training step of an objective-like ``model`` (``step(views, index) -> (loss, metrics)``); its (wall, CPU) seconds."""
    start = clock()
    optimizer.zero_grad(set_to_none=True)
    loss, _ = model.step(views, index)
    loss.backward()
    optimizer.step()
    return since(start)


def machine(load_before: float) -> str:
    """Platform, cores, torch threads and versions, and the 1-minute load average before and now."""
    return (f"{platform.platform()}; {os.cpu_count()} CPUs (torch threads {torch.get_num_threads()}); "
            f"torch {torch.__version__}; Python {platform.python_version()}; "
            f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")


def publish(text: str, out: Path) -> None:
    """Print the report and write it to ``out`` (``benchmarks/results/<name>.md``)."""
    print()
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.rstrip("\n") + "\n")
    print(f"\nwritten to {out}")
