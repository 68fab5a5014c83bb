"""A step on 2 CPU processes with batch 2x16 equals one process with batch 32 (loss, gradients, bank / queue).

Covers SimCLR, MoCo, IR, IRing and NAC; the random draws (bank negatives, bit flips) go through
ssl_core.rank_rand so that every process draws the global batch's numbers and keeps its rows.
"""

from __future__ import annotations

import torch
from ddp_objectives import CASES
from distributed_helpers import distributed_steps, one_step


def test_two_processes_equal_one_with_the_whole_batch(tmp_path):
    g = torch.Generator().manual_seed(0)
    views = [torch.randn(32, 12, generator=g), torch.randn(32, 12, generator=g)]
    index = torch.randperm(1000, generator=g)[:32]
    cases = {name: (make, views, index) for name, make in CASES.items()}
    distributed = distributed_steps(cases, str(tmp_path / "ddp.pt"))
    for name, case in cases.items():
        single = one_step(*case)
        assert torch.allclose(single["loss"], distributed[name]["loss"], atol=1e-6), name
        assert single["grads"].keys() == distributed[name]["grads"].keys()
        for key, grad in single["grads"].items():
            assert torch.allclose(grad, distributed[name]["grads"][key], atol=1e-6), (name, key)
        for key, buffer in single["buffers"].items():  # bank, queue and its pointer, ring step
            assert torch.allclose(buffer.double(), distributed[name]["buffers"][key].double(), atol=1e-6), (name, key)


def test_cli_run_with_lightning_ddp_on_two_cpu_processes(tmp_path):
    """IRing through `ssl-core run` with strategy ddp: both processes train, rank 0 saves and evaluates."""
    import json
    import subprocess
    import sys

    from pipeline_helpers import tiny_pipeline

    path = tiny_pipeline(tmp_path, epochs=1, test_fraction=0.6, extra="evaluate: [knn]\n")
    path.write_text(path.read_text().replace(
        "  name: simclr\n  params: {out_dim: 16, hidden_dim: 16}",
        "  name: ir\n  params: {out_dim: 16}\n  negatives: {source: {name: memory_bank, params: {k: 64}}, select: ring}"))
    command = [sys.executable, "-m", "ssl_core.cli", "run", str(path), "train.strategy=ddp", "train.devices=2",
               "train.accelerator=cpu", "train.batch_size=32"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "run"
    assert json.loads((run / "training.json").read_text())["global_steps"] == 719 // 64  # global batch 2 x 32
    results = json.loads((run / "results.json").read_text())
    assert results["pipeline"]["train"]["strategy"] == "ddp" and results["evaluations"][0]["evaluator"] == "knn"
    assert done.stdout.count("| knn | top1 |") == 1  # only rank 0 evaluated
