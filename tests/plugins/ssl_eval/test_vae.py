"""The importance-sampled log-likelihood against the closed form of a linear Gaussian model."""

from __future__ import annotations

import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from ssl_eval.importance_sampling import importance_sampled_log_likelihood
from ssl_eval.vae import VAEPretraining

from eval_fixtures import blobs_context

# p(z) = N(0, I_2), p(x|z) = N(W z + b, s^2 I_3)  =>  p(x) = N(b, W W^T + s^2 I),
# posterior q*(z|x) = N(A^-1 W^T (x - b) / s^2, A^-1) with A = I + W^T W / s^2.
W = torch.tensor([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2]], dtype=torch.float64)
B = torch.tensor([0.2, -0.1, 0.4], dtype=torch.float64)
S = 0.8


def log_likelihood(x, z):
    return Normal(z @ W.T + B, S).log_prob(x).sum(-1)


def data(n=16):
    torch.manual_seed(1)
    return MultivariateNormal(B, W @ W.T + S**2 * torch.eye(3, dtype=torch.float64)).sample((n,))


def closed_form(x):
    return MultivariateNormal(B, W @ W.T + S**2 * torch.eye(3, dtype=torch.float64)).log_prob(x)


def exact_posterior(x):
    precision = torch.eye(2, dtype=torch.float64) + W.T @ W / S**2
    cov = torch.linalg.inv(precision)
    mean = (x - B) @ W @ cov.T / S**2
    return MultivariateNormal(mean, cov.expand(len(x), 2, 2))


def test_exact_posterior_gives_the_closed_form_for_any_k():
    torch.manual_seed(0)
    x = data()
    for k in (1, 7):
        estimate = importance_sampled_log_likelihood(x, exact_posterior(x), log_likelihood, k)
        assert torch.allclose(estimate, closed_form(x), atol=1e-9)


def test_a_poor_proposal_underestimates_and_tightens_with_k():
    torch.manual_seed(0)
    x = data(64)
    prior = Independent(Normal(torch.zeros(64, 2, dtype=torch.float64), torch.ones(64, 2, dtype=torch.float64)), 1)
    gaps = [(closed_form(x) - importance_sampled_log_likelihood(x, prior, log_likelihood, k)).mean().item()
            for k in (1, 10, 10000)]
    assert gaps[0] > gaps[1] > gaps[2]  # a lower bound in expectation, tighter with more samples
    assert abs(gaps[2]) < 0.05  # and close to exact with many


def test_vae_evaluator_reports_both_starts(tmp_path):
    result = VAEPretraining(latent_dim=2, hidden=16, epochs=2, k=5, batch_size=64).evaluate(blobs_context(tmp_path))
    metrics = result["metrics"]
    assert set(metrics) == {f"{s}/{m}" for s in ("pretrained", "random_init") for m in ("log_likelihood", "elbo", "kl")}
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    assert metrics["pretrained/kl"] >= 0 and metrics["pretrained/log_likelihood"] >= metrics["pretrained/elbo"] - 1.0
