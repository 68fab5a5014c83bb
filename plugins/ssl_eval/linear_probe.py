"""Linear evaluation of frozen features: one linear layer, lr chosen on held-out training data."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ssl_core.eval_context import EvalContext, encode


def topk_accuracy(logits: Tensor, labels: Tensor, k: int) -> float:
    """Share of rows whose label is among the ``k`` highest logits (k capped at the class count)."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).float().mean().item()


def held_out_split(n: int, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """A seeded random split of ``range(n)`` into (fit, validation) indices."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(fraction * n)))
    return order[n_val:], order[:n_val]


class Standardize(nn.Module):
    """``(x - shift) / scale`` with fixed (not trained) statistics."""

    def __init__(self, shift: Tensor, scale: Tensor):
        super().__init__()
        self.register_buffer("shift", shift.detach().clone())
        self.register_buffer("scale", scale.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale


class LinearProbe:
    """Logistic regression on frozen features (NAC paper section 4.1; ring paper section 5).

    The learning rate is searched over ``lrs``: each is trained on the
    training split minus a held-out ``val_fraction`` and scored on that
    held-out part; the best is retrained on the whole training split and only
    then is the test split touched, once. Without ``augment`` the features are
    computed once and cached; with it, every epoch recomputes them through the
    frozen encoder (eval mode) from freshly augmented training views.

    The paper's linear evaluation augments the probe's training images with
    random crop and flip only (NAC paper Sec. 4.1; the authors' code:
    ``RandomResizedCrop(32)``, ``RandomHorizontalFlip``), not with the
    pretraining's colour augmentations. ``augment_views`` gives the probe
    those views, e.g. ``{name: image, params: {size: 32, augment: crop_flip}}``;
    without it ``augment`` uses the pipeline's own training views. The held-out
    and test images always take the pipeline's eval view, and the probe's
    views must give the same eval view (checked on the first training item),
    so that both sides are normalised alike.

    Args:
        layer: ``pooled`` (after global pooling), ``prepool`` (the flattened
            last conv map, the ring paper's protocol) or ``embedding`` (the
            projection output).
        epochs: training epochs per learning rate.
        lrs: learning rates searched.
        optimizer: ``sgd`` or ``nesterov`` (SGD with Nesterov momentum).
        momentum: SGD momentum.
        weight_decay: L2 penalty.
        batch_size: probe batch size.
        val_fraction: share of the training split held out for the search.
        augment: training-side augmentation (the train transform of
            ``augment_views``, or of the pipeline's views).
        augment_views: ``{name: ..., params: {...}}``, registered views whose
            train transform augments the probe's training images (needs
            ``augment: true``); ``null``: the pipeline's views.
        seed: seed of the held-out split, the probe's init and its shuffling.
        standardize: z-score every feature with the mean and standard deviation
            of the training split's (unaugmented) features before the linear
            layer, on every side alike, as a BatchNorm without affine
            parameters in front of the classifier (He et al. 2022, MAE's
            linear probe). Makes one learning rate grid fit encoders whose
            features differ in scale (a random-init and a trained encoder,
            say); ``False`` (the papers' protocol) feeds the raw features.
    """

    component_params = {"augment_views": "views"}
    """Parameters that name a component; the pipeline file's validation checks their name and params."""

    def __init__(self, layer: Literal["pooled", "prepool", "embedding"] = "pooled", epochs: int = 100,
                 lrs: list[float] = (0.01, 0.1, 1.0, 10.0), optimizer: Literal["sgd", "nesterov"] = "nesterov",
                 momentum: float = 0.9, weight_decay: float = 0.0, batch_size: int = 256, val_fraction: float = 0.1,
                 augment: bool = False, augment_views: dict | None = None, seed: int = 0,
                 standardize: bool = False):
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        if not lrs or any(lr <= 0 for lr in lrs):
            raise ValueError(f"lrs must be a non-empty list of positive learning rates, got {list(lrs)}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
        if augment_views is not None:
            if not augment:
                raise ValueError("augment_views: the probe's own views are used only with augment: true")
            if not isinstance(augment_views.get("name"), str) or set(augment_views) - {"name", "params"}:
                raise ValueError(f"augment_views must be {{name: ..., params: {{...}}}}, got {augment_views!r:.80}")
        self.augment_views = augment_views
        self.layer, self.epochs, self.lrs = layer, epochs, [float(lr) for lr in lrs]
        self.optimizer, self.momentum, self.weight_decay = optimizer, momentum, weight_decay
        self.batch_size, self.val_fraction, self.augment, self.seed = batch_size, val_fraction, augment, seed
        self.standardize = standardize
        self.device = "cpu"  # set from the context by run()
        self.shift, self.scale = None, None  # the training features' statistics, set by run() with standardize

    def protocol(self) -> dict:
        return {"layer": self.layer, "epochs": self.epochs, "lrs": self.lrs, "optimizer": self.optimizer,
                "momentum": self.momentum, "weight_decay": self.weight_decay, "batch_size": self.batch_size,
                "val_fraction": self.val_fraction, "augment": self.augment,
                "augment_views": (self.augment_views or "the pipeline's views") if self.augment else None, "seed": self.seed,
                "standardize": self.standardize, "lr_selection": "held-out part of the training split"}

    def classifier(self, n_features: int, n_classes: int) -> nn.Module:
        """The linear layer, behind the fixed z-scoring of the training features when ``standardize``."""
        linear = nn.Linear(n_features, n_classes)
        if not self.standardize:
            return linear.to(self.device)
        return nn.Sequential(Standardize(self.shift, self.scale), linear).to(self.device)

    def fit(self, batches, n_features: int, n_classes: int, lr: float) -> nn.Module:
        """Train a linear layer for ``self.epochs`` on ``batches(epoch)`` (an iterable of (x, y) per epoch)."""
        torch.manual_seed(self.seed)
        model = self.classifier(n_features, n_classes)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=self.momentum,
                              nesterov=self.optimizer == "nesterov", weight_decay=self.weight_decay)
        for epoch in range(self.epochs):
            for x, y in batches(epoch):
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                if not torch.isfinite(loss):
                    return model  # diverged at this lr: scored as it is, the search moves on
                loss.backward()
                opt.step()
        return model

    def _cached_batches(self, x: Tensor, y: Tensor):
        def batches(epoch: int):
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(self.seed + epoch)).to(y.device)
            for start in range(0, len(y), self.batch_size):
                idx = order[start : start + self.batch_size]
                yield x[idx], y[idx]
        return batches

    def train_views(self, ctx: EvalContext, source: dict):
        """The views whose train transform augments the probe's training images (checked against the eval view)."""
        views = source["views"] or ctx.views
        if self.augment_views is None:
            return views
        own = ctx.registry.build("views", self.augment_views["name"], self.augment_views.get("params") or {})
        x = ctx.raw_split("train", source["dataset"], source["params"])[0][0]
        if not torch.equal(torch.as_tensor(own.eval(x)), torch.as_tensor(views.eval(x))):
            raise ValueError(f"augment_views: the eval view of '{self.augment_views['name']}' with "
                             f"{self.augment_views.get('params') or {}} differs from the pipeline's on the first "
                             f"training item; give them the same size, colour space and normalisation")
        return own

    def _augmented_batches(self, ctx: EvalContext, subset: Tensor, source: dict, views):
        from torch.utils.data import Subset

        data = Subset(ctx.split("train", "train", source["dataset"], source["params"], views), subset.tolist())

        def batches(epoch: int):
            loader = ctx.loader(data, shuffle=True, seed=self.seed + epoch)
            feats, labels = encode(ctx.encoder, loader, self.layer, ctx.objective, ctx.device)
            feats, labels = feats.to(ctx.device), labels.to(ctx.device)
            yield from self._cached_batches(feats, labels)(epoch)
        return batches

    def _batches(self, ctx: EvalContext, x: Tensor, y: Tensor, subset: Tensor, source: dict, views=None):
        if self.augment:
            return self._augmented_batches(ctx, subset, source, views)
        return self._cached_batches(x[subset], y[subset])

    @staticmethod
    def _score(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
        with torch.no_grad():
            logits = model(x)
        return topk_accuracy(logits, y, 1), topk_accuracy(logits, y, 5)

    def evaluate(self, ctx: EvalContext) -> dict:
        return self.run(ctx)

    def run(self, ctx: EvalContext, dataset: str | None = None, params: dict | None = None, views=None) -> dict:
        """The probe on the pipeline's data, or on ``dataset`` with ``params`` and ``views`` (transfer)."""
        source = {"dataset": dataset, "params": params, "views": views}
        self.device = ctx.device  # the probe is trained where the encoder is
        x, y = (t.to(ctx.device) for t in ctx.features("train", self.layer, **source))
        if self.standardize:
            self.shift, self.scale = x.mean(0), x.std(0).clamp_min(1e-6)
        n_classes = int(y.max()) + 1
        fit_idx, val_idx = (i.to(x.device) for i in held_out_split(len(y), self.val_fraction, self.seed))
        views = self.train_views(ctx, source) if self.augment else None
        search = {}
        for lr in self.lrs:
            model = self.fit(self._batches(ctx, x, y, fit_idx, source, views), x.shape[1], n_classes, lr)
            search[lr] = self._score(model, x[val_idx], y[val_idx])[0]
        best_lr = max(self.lrs, key=lambda lr: (search[lr], -lr))
        model = self.fit(self._batches(ctx, x, y, torch.arange(len(y), device=x.device), source, views), x.shape[1], n_classes, best_lr)
        x_test, y_test = (t.to(ctx.device) for t in ctx.features("test", self.layer, **source))
        n_classes_test = max(n_classes, int(y_test.max()) + 1)
        if n_classes_test > n_classes:
            raise ValueError(f"the test split has labels up to {n_classes_test - 1} but training only up to {n_classes - 1}")
        top1, top5 = self._score(model, x_test, y_test)
        protocol = self.protocol() | {"chosen_lr": best_lr, "val_top1_by_lr": {str(k): v for k, v in search.items()},
                                      "feature_dim": int(x.shape[1]), "train_examples": int(len(y)),
                                      "test_examples": int(len(y_test))}
        return {"metrics": {"top1": top1, "top5": top5}, "protocol": protocol,
                "outcomes": ["chosen_lr", "val_top1_by_lr", "feature_dim"]}
