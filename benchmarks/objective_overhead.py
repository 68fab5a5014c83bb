"""Objective overhead: a training step split into the encoder's share and everything else.

For SimCLR, MoCo, IR, CMC, NAC, NAC-MQ and the Ring variant of each, one
training step (``objective.step``, backward, SGD step; the objective's own
bank / queue / momentum updates happen inside ``step``) is timed whole, then
the same step is timed again with every encoder call served from the outputs
the first run recorded (forward hooks on every encoder module of the
objective: the backbone, MoCo's and NAC-MQ's momentum copies, CMC's two
channel-split copies). The second run is everything else, measured directly
rather than as a difference of two large noisy times: projection heads and
inference networks, the loss, negative sources and selectors, queue / bank /
momentum updates, the backward pass down to the encoder outputs, and the SGD
update of all parameters (the encoders' with zero gradients).

Components are built through the registry from the same YAML blocks as the
paper pipelines (``examples/pipelines/*_resnet18_*-200e_cifar10.yaml``):
ResNet-18 with the CIFAR stem, 32x32 inputs, batch 128, banks of 50,000
entries (CIFAR-10's training set), MoCo's queue 65,536, the ring at its
annealed target (l = 1, u = 10, the largest selection cost). Configurations
are interleaved step by step after one warm-up step each; medians of wall and
process CPU time are reported (CPU time is the steadier one when other
processes share the machine).

Run: ``python benchmarks/objective_overhead.py [--steps 3]``; about 10
minutes on 2 CPU cores. Writes ``benchmarks/results/objective_overhead.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from bench_report import clock, machine, publish, since
from ssl_core.config import load_config_text
from ssl_core.pipeline import build, build_negatives
from ssl_core.registry import make_registry

RESULTS = Path(__file__).resolve().parent / "results" / "objective_overhead.md"
NUM_EXAMPLES = 50_000
RING = "select: {name: ring, params: {l: 1.0, u: 10.0, schedule: none}}"
OBJECTIVES = {
    # name: (objective block, source block); the source line is omitted for objectives with in-batch negatives
    "SimCLR": ("{name: simclr, params: {out_dim: 128, temperature: 0.5}}", ""),
    "IR": ("{name: ir, params: {out_dim: 128, temperature: 0.07}}",
           "source: {name: memory_bank, params: {k: 4096, momentum: 0.5}}"),
    "CMC": ("{name: cmc, params: {out_dim: 128, temperature: 0.07}}",
            "source: {name: memory_bank, params: {k: 4096, momentum: 0.5}}"),
    "MoCo": ("{name: moco, params: {out_dim: 128, temperature: 0.07, momentum: 0.999}}",
             "source: {name: queue, params: {size: 65536}}"),
    "NAC": ("{name: nac, params: {p: 0.1, out_dim: 128}}", ""),
    "NAC-MQ": ("{name: nac_mq, params: {p: 0.1, out_dim: 128, momentum: 0.99, l2_weight: 0.1}}",
               "source: {name: queue, params: {size: 50000}}"),
}


def pipeline_text(method: str, with_ring: bool, batch: int) -> str:
    objective, source = OBJECTIVES[method]
    objective = objective[:-1] + ", negatives: {" + ", ".join(s for s in (source, RING if with_ring else "") if s) + "}}"
    return f"""
name: overhead_{method}
data: {{dataset: cifar10, params: {{root: data}}}}
views: {{name: image, params: {{size: 32}}}}
encoder: {{name: resnet18, params: {{stem: cifar}}}}
objective: {objective}
train: {{epochs: 200, batch_size: {batch}, optimizer: {{name: sgd, lr: 0.03, momentum: 0.9, weight_decay: 1.0e-4}}}}
"""


def build_objective(registry, method: str, with_ring: bool, batch: int) -> torch.nn.Module:
    """The objective (with its encoder, source and selector) as a pipeline would build it."""
    config = load_config_text(pipeline_text(method, with_ring, batch), f"<{method}>", registry=registry)
    values = config.values
    torch.manual_seed(0)
    encoder = build(config, registry, "encoder", "resnet18", values["encoder"]["params"], ("encoder", "params"), in_channels=3)
    source, selector = build_negatives(config, registry, NUM_EXAMPLES, NUM_EXAMPLES // batch)
    objective = build(config, registry, "objective", values["objective"]["name"], values["objective"]["params"],
                      ("objective", "params"), encoder=encoder, source=source, selector=selector, num_examples=NUM_EXAMPLES)
    queue = getattr(objective, "source", None)
    if hasattr(queue, "keys"):  # a full queue: every step scores all M keys
        queue.update(torch.nn.functional.normalize(torch.randn(queue.keys.shape), dim=1))
    return objective


def encoder_modules(objective: torch.nn.Module, encoder_type: type) -> list[torch.nn.Module]:
    """Every module of the backbone's class inside the objective (momentum and channel-split copies too)."""
    return [m for m in objective.modules() if isinstance(m, encoder_type)]


class EncoderStub:
    """Records every encoder call's output during a real step; then serves them back instead of running it.

    With the stub active, ``objective.step`` runs everything but the encoders:
    each encoder call returns the output the real step computed (a leaf that
    takes gradients when grad mode is on, so the backward pass stops there).
    """

    def __init__(self, modules: list[torch.nn.Module]):
        self.modules = modules
        self.outputs: list[torch.Tensor] = []
        self.calls_with_grad = 0
        for module in modules:
            module.register_forward_hook(self._record)
        self.recording = False

    def _record(self, module, args, output):
        if self.recording:
            self.outputs.append(output.detach())
            self.calls_with_grad += int(torch.is_grad_enabled())

    def __enter__(self):
        served = iter(list(self.outputs))

        def serve(*args, **kwargs):
            out = next(served)
            return out.clone().requires_grad_() if torch.is_grad_enabled() else out

        for module in self.modules:
            module.forward = serve
        return self

    def __exit__(self, *exc):
        for module in self.modules:
            del module.forward  # back to the class's forward


def sgd_step(objective, optimizer, views, index) -> tuple[float, float]:
    start = clock()
    loss, _ = objective.step(views, index)
    loss.backward()
    optimizer.step()
    return since(start)


def measure(objective, optimizer, stub: EncoderStub, views, index) -> tuple[tuple[float, float], tuple[float, float]]:
    """(full step, everything else) as ((wall, CPU), (wall, CPU)) seconds.

    In the second run the encoders' parameters get zero gradients, allocated
    before the clock starts, so the SGD update still covers every parameter.
    """
    stub.outputs.clear()
    stub.calls_with_grad = 0
    stub.recording = True
    optimizer.zero_grad(set_to_none=True)
    full = sgd_step(objective, optimizer, views, index)
    stub.recording = False
    optimizer.zero_grad(set_to_none=True)
    for module in stub.modules:
        for param in module.parameters():
            if param.requires_grad:
                param.grad = torch.zeros_like(param)
    with stub:
        other = sgd_step(objective, optimizer, views, index)
    return full, other


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="measured steps per configuration (after one warm-up)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--methods", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    registry = make_registry(autoload=False, warn=False)
    from ssl_encoders.resnet import ResNetEncoder

    configs = [(m, r) for m in args.methods for r in (False, True)]
    built = {}
    for method, with_ring in configs:
        objective = build_objective(registry, method, with_ring, args.batch)
        objective.train()
        params = [p for p in objective.parameters() if p.requires_grad]
        optimizer = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=1e-4)
        built[(method, with_ring)] = (objective, optimizer, EncoderStub(encoder_modules(objective, ResNetEncoder)))
    gen = torch.Generator().manual_seed(0)
    views = [torch.randn(args.batch, 3, 32, 32, generator=gen) for _ in range(2)]
    index = torch.randperm(NUM_EXAMPLES, generator=gen)[: args.batch]
    times: dict = {c: [] for c in configs}
    calls: dict = {}
    for rep in range(args.steps + 1):
        for config in configs:
            objective, optimizer, stub = built[config]
            full, other = measure(objective, optimizer, stub, views, index)
            calls[config] = len(stub.outputs), stub.calls_with_grad
            if rep > 0:
                times[config].append((full, other))
            name = config[0] + ("+Ring" if config[1] else "")
            print(f"  {'warm-up' if rep == 0 else f'step {rep}'} {name}: step {1000 * full[0]:.0f} ms, "
                  f"everything else {1000 * other[0]:.0f} ms (wall)", flush=True)

    lines = ["| method | encoder calls (with grad) | step ms (wall) | encoder ms (wall) | everything else ms (wall) "
             "| everything else % (wall) | step ms (CPU) | everything else % (CPU) | goal <= 5% |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for config in configs:
        cells = []
        med = {}
        for column in (0, 1):
            step = statistics.median(t[0][column] for t in times[config])
            other = statistics.median(t[1][column] for t in times[config])
            med[column] = (step, other)
        (step_w, other_w), (step_c, other_c) = med[0], med[1]
        n, g = calls[config]
        worst = max(other_w / step_w, other_c / step_c)
        cells = [f"{n} ({g})", f"{1000 * step_w:.0f}", f"{1000 * (step_w - other_w):.0f}", f"{1000 * other_w:.0f}",
                 f"{100 * other_w / step_w:.1f}%", f"{1000 * step_c:.0f}", f"{100 * other_c / step_c:.1f}%",
                 "met" if worst <= 0.05 else "not met"]
        lines.append(f"| {config[0]}{' + Ring' if config[1] else ''} | " + " | ".join(cells) + " |")
    report = "\n\n".join([
        "# Objective overhead: encoder vs everything else per training step",
        f"`python benchmarks/objective_overhead.py --steps {args.steps} --batch {args.batch}`; machine: {machine(load_before)}.",
        f"ResNet-18 (CIFAR stem), 32x32 inputs, batch {args.batch}, banks of {NUM_EXAMPLES:,} entries (k = 4096 drawn "
        "negatives, momentum 0.5), MoCo queue 65,536, NAC-MQ queue 50,000, ring at l = 1, u = 10 (annealing "
        f"finished). Medians over {args.steps} steps per configuration after one warm-up, configurations "
        "interleaved. 'Everything else' is the same step timed with each encoder call (the backbone, momentum "
        "copies, CMC's two channel-split encoders) served from the outputs the full step computed: heads, loss, "
        "sources, selector, bank / queue / momentum updates, backward down to the encoder outputs and the SGD "
        "update of all parameters.",
        "\n".join(lines),
        f"Total benchmark time: {time.perf_counter() - began:.0f} s.",
    ])
    publish(report, args.out)


if __name__ == "__main__":
    main()
