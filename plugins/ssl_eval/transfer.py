"""Transfer evaluation: a linear probe on each task of a named suite, one table."""

from __future__ import annotations

from typing import Literal

from ssl_core.eval_context import EvalContext
from ssl_eval.linear_probe import LinearProbe


class Transfer:
    """Runs a linear probe on the frozen encoder for every (dataset, task) of a suite.

    Defaults follow the transfer protocol of the ring paper (section 5 and the
    speech experiments): pre-pool features, logistic regression, SGD lr 0.01,
    momentum 0.9, 100 epochs, no weight decay. A task whose data is absent is
    listed as skipped with the reason, never silently dropped.

    Args:
        suite: a registered suite name (``ssl-core plugins`` lists them).
        suite_params: the suite's parameters (e.g. its data root).
        layer, epochs, lrs, optimizer, momentum, weight_decay, batch_size,
            val_fraction, augment, seed, standardize: the linear probe's (``augment``
            trains on the task views' ``train`` side, e.g. masking for speech).
    """

    def __init__(self, suite: str, suite_params: dict | None = None,
                 layer: Literal["pooled", "prepool", "embedding"] = "prepool", epochs: int = 100,
                 lrs: list[float] = (0.01,), optimizer: Literal["sgd", "nesterov"] = "sgd", momentum: float = 0.9,
                 weight_decay: float = 0.0, batch_size: int = 256, val_fraction: float = 0.1, augment: bool = False,
                 seed: int = 0, standardize: bool = False):
        self.suite, self.suite_params = suite, dict(suite_params or {})
        self.probe = LinearProbe(layer=layer, epochs=epochs, lrs=lrs, optimizer=optimizer, momentum=momentum,
                                 weight_decay=weight_decay, batch_size=batch_size, val_fraction=val_fraction,
                                 augment=augment, seed=seed, standardize=standardize)

    def evaluate(self, ctx: EvalContext) -> dict:
        tasks = ctx.registry.build("suite", self.suite, self.suite_params)
        metrics, skipped, rows, protocols = {}, {}, [], {}
        for task in tasks:
            views = ctx.registry.build("views", task.views, task.views_params) if task.views else None
            try:
                outcome = self.probe.run(ctx, task.dataset, task.params, views)
            except FileNotFoundError as exc:
                skipped[task.title] = str(exc)
                rows.append(f"| {task.title} | | | skipped: {str(exc).splitlines()[0][:160]} |")
                continue
            top1, top5 = outcome["metrics"]["top1"], outcome["metrics"]["top5"]
            metrics[f"{task.title}/top1"], metrics[f"{task.title}/top5"] = top1, top5
            protocols[task.title] = {k: outcome["protocol"][k] for k in ("chosen_lr", "train_examples", "test_examples", "feature_dim")}
            rows.append(f"| {task.title} | {top1:.4f} | {top5:.4f} | ok |")
        table = "\n".join(["| task | top1 | top5 | status |", "|---|---|---|---|", *rows])
        protocol = self.probe.protocol() | {"suite": self.suite, "suite_params": self.suite_params,
                                            "tasks": [t.title for t in tasks], "per_task": protocols, "skipped": skipped}
        return {"metrics": metrics, "protocol": protocol, "tables": {f"suite {self.suite}": table},
                "outcomes": ["per_task", "skipped"]}
