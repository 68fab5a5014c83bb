"""VAE pretraining evaluation (NAC paper, section 4.4 and Table 5)."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Independent, Normal

from ssl_core.eval_context import EvalContext
from ssl_eval.importance_sampling import gaussian_prior_log_prob, importance_sampled_log_likelihood


class GaussianDecoder(nn.Module):
    """p(x|z) = N(x; MLP(z), diag(exp(2 * log_std))) over the flattened input, log_std learned per dimension."""

    def __init__(self, latent_dim: int, input_shape: tuple[int, ...], hidden: int):
        super().__init__()
        self.input_shape = input_shape
        size = math.prod(input_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, size))
        self.log_std = nn.Parameter(torch.zeros(size))

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """``log p(x|z)`` for ``z`` ``[..., B, L]`` -> ``[..., B]``."""
        mean = self.net(z)
        return Normal(mean, self.log_std.exp()).log_prob(x.flatten(1)).sum(-1)


class VAEEncoder(nn.Module):
    """q(z|x) = N(mu, diag(sigma^2)) from the backbone's pooled features through a new linear layer."""

    def __init__(self, backbone: nn.Module, latent_dim: int):
        super().__init__()
        self.backbone = backbone
        self.output = nn.Linear(backbone.feature_dim, 2 * latent_dim)

    def forward(self, x: Tensor) -> Independent:
        mu, log_std = self.output(self.backbone(x)).chunk(2, dim=1)
        return Independent(Normal(mu, log_std.clamp(-10, 5).exp()), 1)


def reinitialised(module: nn.Module, seed: int) -> nn.Module:
    """A copy of ``module`` with every submodule's ``reset_parameters`` called (a random initialisation)."""
    torch.manual_seed(seed)
    fresh = copy.deepcopy(module)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return fresh


class VAEPretraining:
    """Finetunes a VAE whose encoder is the backbone plus a new linear output layer, and reports its fit.

    As in the NAC paper (Table 5), the backbone starts from the pretrained
    weights (a copy: the run's encoder is never changed), the output layer
    from a random initialisation with its own, higher learning rate
    (``head_lr``); both are trained on the ELBO. The same VAE with a randomly
    initialised backbone is trained alongside for comparison. Reported on the
    test split: the importance-sampled log-likelihood with ``k`` samples
    (Burda et al., 2016), the ELBO and its KL term, in nats per example.

    Args:
        latent_dim: size of z.
        hidden: decoder hidden width.
        epochs: finetuning epochs.
        lr: backbone and decoder learning rate (Adam).
        head_lr: learning rate of the new linear output layer.
        k: importance samples for the log-likelihood.
        batch_size: training batch size.
        compare_random_init: also train from a randomly initialised backbone.
        seed: seed of initialisation and sampling.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 256, epochs: int = 10, lr: float = 1e-4,
                 head_lr: float = 1e-3, k: int = 100, batch_size: int = 128, compare_random_init: bool = True,
                 seed: int = 0):
        for name, value in (("latent_dim", latent_dim), ("epochs", epochs), ("k", k), ("batch_size", batch_size)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.latent_dim, self.hidden, self.epochs, self.lr, self.head_lr = latent_dim, hidden, epochs, lr, head_lr
        self.k, self.batch_size, self.compare_random_init, self.seed = k, batch_size, compare_random_init, seed

    def _train(self, backbone: nn.Module, train_x: Tensor) -> tuple[VAEEncoder, GaussianDecoder]:
        """The VAE trained on ``train_x``, on ``train_x``'s device (the context's)."""
        torch.manual_seed(self.seed)
        for p in backbone.parameters():
            p.requires_grad_(True)
        encoder = VAEEncoder(backbone, self.latent_dim).to(train_x.device)
        decoder = GaussianDecoder(self.latent_dim, tuple(train_x.shape[1:]), self.hidden).to(train_x.device)
        optimizer = torch.optim.Adam([
            {"params": encoder.backbone.parameters(), "lr": self.lr},
            {"params": encoder.output.parameters(), "lr": self.head_lr},
            {"params": decoder.parameters(), "lr": self.lr},
        ])
        encoder.train()
        decoder.train()
        for epoch in range(self.epochs):
            order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(self.seed + epoch)).to(train_x.device)
            for start in range(0, len(order), self.batch_size):
                x = train_x[order[start : start + self.batch_size]]
                q = encoder(x)
                z = q.rsample()
                elbo = decoder.log_likelihood(x, z) + gaussian_prior_log_prob(z) - q.log_prob(z)
                optimizer.zero_grad()
                (-elbo.mean()).backward()
                optimizer.step()
        return encoder.eval(), decoder.eval()

    @torch.no_grad()
    def _score(self, encoder: VAEEncoder, decoder: GaussianDecoder, test_x: Tensor) -> dict:
        torch.manual_seed(self.seed)
        ll, elbo, kl = [], [], []
        for start in range(0, len(test_x), self.batch_size):
            x = test_x[start : start + self.batch_size]
            q = encoder(x)
            ll.append(importance_sampled_log_likelihood(x, q, decoder.log_likelihood, self.k))
            prior = Independent(Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean)), 1)
            kl_term = torch.distributions.kl_divergence(q, prior)
            z = q.sample()
            elbo.append(decoder.log_likelihood(x, z) - kl_term)
            kl.append(kl_term)
        return {"log_likelihood": torch.cat(ll).mean().item(), "elbo": torch.cat(elbo).mean().item(),
                "kl": torch.cat(kl).mean().item()}

    def _inputs(self, ctx: EvalContext, split: str) -> Tensor:
        data = ctx.split(split, "eval")
        return torch.stack([data[i][0] for i in range(len(data))]).to(ctx.device)

    def evaluate(self, ctx: EvalContext) -> dict:
        train_x, test_x = self._inputs(ctx, "train"), self._inputs(ctx, "test")
        metrics = {}
        starts = {"pretrained": copy.deepcopy(ctx.encoder)}
        if self.compare_random_init:
            starts["random_init"] = reinitialised(ctx.encoder, self.seed).to(ctx.device)
        for label, backbone in starts.items():
            scores = self._score(*self._train(backbone, train_x), test_x)
            metrics |= {f"{label}/{name}": value for name, value in scores.items()}
        protocol = {"latent_dim": self.latent_dim, "decoder": f"Gaussian MLP, hidden {self.hidden}, learned std",
                    "epochs": self.epochs, "optimizer": "adam", "lr": self.lr, "head_lr": self.head_lr,
                    "importance_samples": self.k, "units": "nats per example", "inputs": "eval views of the data",
                    "train_examples": len(train_x), "test_examples": len(test_x), "seed": self.seed}
        return {"metrics": metrics, "protocol": protocol}
