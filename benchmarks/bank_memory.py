"""Memory bank and queue as the training set grows: memory, per-step update time, drawing negatives.

Sizes: 50,000 entries (CIFAR), 500,000 and 1,281,167 (ImageNet-1k's training
set), 128-d, the bank in float32 and float16 (``MemoryBank(dtype=...)``); the
queue (``KeyQueue``, float32 only) at the same sizes. Per configuration:

- **memory**: the bank's (or queue's) buffer, which is what every checkpoint
  holds too, and the peak resident memory while it is built (sampled every
  millisecond from ``/proc/self/statm``; the initial bank is drawn in float32,
  so building an fp16 bank briefly needs more than the bank);
- **update**: one ``update(keys, index)`` with a batch of 256 keys (momentum
  0.5, CMC's, so the old entries are read and mixed); goal: no dearer at
  1.28M entries than at 50k;
- **draw k=4096**: per anchor of a batch of 256, 4,096 negatives drawn
  uniformly (``ssl_contrastive.ir.draw_negatives``, IR's draw), gathered from
  the bank as float32 and scored against the anchors (``bmm``): IR's path for
  banks larger than 16 x k entries; the gathered ``[256, 4096, 128]`` float32
  block is 512 MiB whatever the bank size;
- **pool()**: the whole bank as float32 plus the ``[256, N]`` mask excluding
  each anchor's own entry: what a selector (the ring) is given, so its cost
  grows with N.

All configurations are built first; then timing rounds are interleaved
(one update of each configuration, then the next round ...), so that load
from other processes on a shared machine hits them alike. Medians over
rounds are reported, wall time and process CPU time (the steadier of the two
on a busy machine), with each configuration's ratio to the 50k one measured
in the same run.

Torch runs with one intra-op thread (``--threads``): on a busy 2-core
machine a second thread makes small ops wait for it to be scheduled, which
swamps what is measured here. The last table shows that effect on the
bank's own indexing (``bank[index]``, which ``update`` and ``positives``
use) against ``index_select``, at the default of 2 threads.

Run: ``python benchmarks/bank_memory.py [--rounds 60] [--draw-rounds 3]``
(about 2 minutes on 2 CPU cores). Writes ``benchmarks/results/bank_memory.md``.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ssl_contrastive.ir import draw_negatives
from ssl_contrastive.memory_bank import MemoryBank
from ssl_contrastive.queue import KeyQueue

RESULTS = Path(__file__).resolve().parent / "results" / "bank_memory.md"
SIZES = (50_000, 500_000, 1_281_167)
DIM, BATCH, K = 128, 256, 4096
MB = 1e6
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRSS:
    """The peak resident set size above the level at entry, sampled every millisecond in a thread."""

    def __enter__(self):
        gc.collect()
        self.base = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())
        self.delta = self.peak - self.base


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="timing rounds of update()")
    parser.add_argument("--draw-rounds", type=int, default=3, help="timing rounds of drawing negatives and of pool()")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    started = time.time()
    torch.manual_seed(0)

    configs = [("memory bank", n, dtype) for n in SIZES for dtype in ("float32", "float16")]
    configs += [("queue", n, "float32") for n in SIZES]
    objects, memory = {}, {}
    for kind, n, dtype in configs:
        with PeakRSS() as peak:
            obj = MemoryBank(k=K, momentum=0.5, dtype=dtype, dim=DIM, num_examples=n) if kind == "memory bank" \
                else KeyQueue(size=n, dim=DIM)
        buffers = sum(b.numel() * b.element_size() for b in obj.buffers())
        objects[(kind, n, dtype)] = obj
        memory[(kind, n, dtype)] = (buffers, peak.delta)
        print(f"built {kind} {n:>9,} {dtype}: {buffers / MB:8.1f} MB, peak while building +{peak.delta / MB:8.1f} MB",
              flush=True)

    keys = F.normalize(torch.randn(BATCH, DIM), dim=1)
    anchors = F.normalize(torch.randn(BATCH, DIM), dim=1)
    update = {c: [] for c in configs}
    for r in range(args.rounds + 1):  # round 0 warms up
        for c in configs:
            index = torch.randint(c[1], (BATCH,))
            t = timed(lambda: objects[c].update(keys, index))
            if r:
                update[c].append(t)

    banks = [c for c in configs if c[0] == "memory bank"]
    draw, pool, draw_peak, pool_peak = {c: [] for c in banks}, {c: [] for c in banks}, {}, {}
    for r in range(args.draw_rounds + 1):  # round 0 warms up
        for c in (banks if r else banks[:1]):
            bank, index = objects[c], torch.randint(c[1], (BATCH,))

            def draw_and_score():
                neg = draw_negatives(index, None, len(bank), bank.k)  # [B, k]
                entries = bank.bank[neg].float()  # [B, k, D]
                return torch.bmm(entries, anchors[:, :, None]).squeeze(2)

            def whole_pool():
                return bank.pool(index=index)

            with PeakRSS() as peak:
                t = timed(draw_and_score)
            draw_peak[c] = max(draw_peak.get(c, 0), peak.delta)
            with PeakRSS() as peak:
                u = timed(whole_pool)
            pool_peak[c] = max(pool_peak.get(c, 0), peak.delta)
            if r:
                draw[c].append(t)
                pool[c].append(u)

    def med(samples, i):  # i = 0: wall, 1: CPU
        return statistics.median(s[i] for s in samples)

    def spread(samples):  # interquartile range of the wall times, relative to their median
        q = statistics.quantiles([s[0] for s in samples], n=4)
        return (q[2] - q[0]) / med(samples, 0)

    def base(c):
        return (c[0], SIZES[0], c[2])

    header = ("| structure | entries | dtype | buffer MB | peak while building MB | update ms (wall / CPU) "
              "| update vs 50k (wall / CPU) | draw k=4096 + score ms | draw vs 50k | pool() ms | pool() peak MB |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for c in configs:
        buffers, built = memory[c]
        up, up0 = update[c], update[base(c)]
        row = [c[0], f"{c[1]:,}", c[2], f"{buffers / MB:.1f}", f"{built / MB:.0f}",
               f"{1e3 * med(up, 0):.3f} / {1e3 * med(up, 1):.3f}",
               f"{med(up, 0) / med(up0, 0):.2f}x / {med(up, 1) / med(up0, 1):.2f}x"]
        if c in draw:
            row += [f"{1e3 * med(draw[c], 0):.0f}", f"{med(draw[c], 0) / med(draw[base(c)], 0):.2f}x",
                    f"{1e3 * med(pool[c], 0):.0f}", f"{pool_peak[c] / MB:.0f}"]
        else:
            row += ["-", "-", "-", "-"]
        lines.append("| " + " | ".join(row) + " |")
    table = "\n".join(lines)

    fp16_big = memory[("memory bank", SIZES[-1], "float16")][0]
    worst_update = max(med(update[c], 0) / med(update[base(c)], 0) for c in configs)
    worst_update_cpu = max(med(update[c], 1) / med(update[base(c)], 1) for c in configs)
    spreads = [spread(update[c]) for c in configs]
    verdict = [
        f"- 1,281,167 x 128 float16 bank: {fp16_big / MB:.1f} MB (goal: under 400 MB): "
        f"{'met' if fp16_big < 400 * MB else 'NOT met'}.",
        f"- update of 256 entries, worst ratio to the same structure at 50k: {worst_update:.2f}x wall, "
        f"{worst_update_cpu:.2f}x CPU (goal: no more than 1x); the rounds' interquartile spread of the wall time "
        f"is {100 * min(spreads):.0f}-{100 * max(spreads):.0f}% of the median, so ratios within that band are "
        f"noise, not growth.",
        f"- drawing and scoring k=4096 negatives per anchor: {1e3 * min(med(draw[c], 0) for c in banks):.0f}-"
        f"{1e3 * max(med(draw[c], 0) for c in banks):.0f} ms per batch of 256; it gathers a 512 MiB float32 block "
        f"whatever N, peak {max(draw_peak.values()) / MB:.0f} MB.",
        f"- pool() (what a selector such as the ring gets) grows with N: "
        f"{1e3 * med(pool[('memory bank', SIZES[-1], 'float16')], 0):.0f} ms and "
        f"{pool_peak[('memory bank', SIZES[-1], 'float16')] / MB:.0f} MB transient per step at 1.28M float16.",
    ]
    # bank[index] against index_select at torch's default thread count
    torch.set_num_threads(default_threads)
    indexing = []
    for n in (SIZES[0], SIZES[-1]):
        bank = objects[("memory bank", n, "float32")].bank
        times = {"bank[index]": [], "index_select": []}
        for r in range(args.rounds):
            index = torch.randint(n, (BATCH,))
            times["bank[index]"].append(timed(lambda: bank[index]))
            times["index_select"].append(timed(lambda: bank.index_select(0, index)))
        indexing.append(f"| {n:,} | " + " | ".join(f"{1e3 * med(v, 0):.3f} / {1e3 * med(v, 1):.3f}" for v in times.values())
                        + " |")
    torch.set_num_threads(args.threads)
    indexing_table = "\n".join([f"| entries (float32) | bank[index] ms (wall / CPU) | index_select ms (wall / CPU) |",
                                "|---|---|---|", *indexing])

    machine = (f"{platform.platform()}; {os.cpu_count()} cores; Python {platform.python_version()}; "
               f"torch {torch.__version__}, {args.threads} intra-op thread(s); load average "
               f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; {time.time() - started:.0f} s")
    text = "\n".join([
        "# Memory bank and queue: memory and per-step cost as the training set grows", "",
        f"`python benchmarks/bank_memory.py --rounds {args.rounds} --draw-rounds {args.draw_rounds}`, "
        f"all numbers from one run; {machine}.", "",
        f"Batch {BATCH}, {DIM}-d entries, k = {K}; update with momentum 0.5. Medians over {args.rounds} interleaved "
        f"rounds (update) and {args.draw_rounds} (draw, pool); ratios are to the same structure and dtype at 50,000 "
        f"entries, from the same run. The queue has no float16 option; its buffer is the same size as a float32 bank.",
        "", table, "", *verdict, "",
        f"Gathering {BATCH} rows of 128 from a float32 bank at torch's default of {default_threads} intra-op threads, "
        f"median over {args.rounds} rounds:", "", indexing_table, "",
    ])
    print()
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
