"""BatchNorm running statistics re-estimated on data, for a fair random-initialisation baseline.

A freshly built network has BatchNorm running statistics of mean 0 and
variance 1, so in eval mode its BatchNorm layers do no normalisation at all,
while any trained run's statistics come from the data. Evaluating the
random-init encoder as built therefore compares trained weights *and* data
statistics against neither; re-estimating the statistics on the training data
(weights untouched) isolates what training the weights gave.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable[Tensor], forward=None) -> int:
    """Reset every BatchNorm layer of ``model`` and set its running statistics to the average over ``batches``.

    Each layer's running mean and variance become the equal-weight average of
    its batch statistics (``momentum=None``, PyTorch's cumulative average), as
    ``torch.optim.swa_utils.update_bn`` does; here ``forward`` (default
    ``model``) may be any function of the inputs that runs through the layers,
    e.g. an objective's ``embed``. Weights are not changed; ``model`` is left
    in eval mode.

    Returns:
        the number of BatchNorm layers re-estimated (0: nothing to do, no pass made).
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not layers:
        return 0
    momenta = {layer: layer.momentum for layer in layers}
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    model.train()
    forward = forward or model
    for x in batches:
        forward(x)
    for layer, momentum in momenta.items():
        layer.momentum = momentum
    model.eval()
    return len(layers)
