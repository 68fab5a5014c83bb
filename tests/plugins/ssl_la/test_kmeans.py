"""k-means of the bank: the torch Lloyd loop against a direct loop, seeding, and faiss against torch."""

from __future__ import annotations

import pytest
import torch

from ssl_la.kmeans import faiss_available, initial_centroids, kmeans


def direct_lloyd(points: list[list[float]], centroids: list[list[float]], iters: int) -> list[int]:
    """Lloyd's algorithm written out with Python lists: nearest centroid (first on ties), then means."""
    def nearest(p):
        dists = [sum((a - b) ** 2 for a, b in zip(p, c)) for c in centroids]
        return dists.index(min(dists))

    for _ in range(iters):
        labels = [nearest(p) for p in points]
        for j in range(len(centroids)):
            members = [p for p, label in zip(points, labels) if label == j]
            if members:  # an empty cluster keeps its centroid
                centroids[j] = [sum(col) / len(members) for col in zip(*members)]
    return [nearest(p) for p in points]


def blobs(seed: int = 0, n_per: int = 12, centres: int = 4, dim: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Points around ``centres`` far-apart means (shuffled), and each point's blob."""
    g = torch.Generator().manual_seed(seed)
    means = torch.eye(centres, dim) * 20
    blob = torch.arange(centres).repeat_interleave(n_per)
    x = means[blob] + torch.randn(centres * n_per, dim, generator=g)
    order = torch.randperm(x.shape[0], generator=g)
    return x[order], blob[order]


@pytest.mark.parametrize("iters", [1, 2, 5])
@pytest.mark.parametrize("seed", [0, 7])
def test_torch_kmeans_equals_a_direct_lloyd_loop(iters, seed):
    x = torch.randn(30, 3, generator=torch.Generator().manual_seed(seed + 100))  # no structure: many moves
    init = initial_centroids(x, 5, seed).tolist()
    expected = direct_lloyd(x.tolist(), init, iters)
    got = kmeans(x, 5, seed, iters=iters, backend="torch")
    assert got.tolist() == expected


def test_initial_centroids_are_distinct_rows_fixed_by_the_seed():
    x = torch.arange(20.0)[:, None] * torch.ones(1, 2)
    a, b, c = initial_centroids(x, 6, 3), initial_centroids(x, 6, 3), initial_centroids(x, 6, 4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert len(set(a[:, 0].tolist())) == 6 and set(a[:, 0].tolist()) <= set(x[:, 0].tolist())


def test_kmeans_recovers_separated_blobs():
    x, blob = blobs()
    labels = kmeans(x, 4, seed=1, iters=20, backend="torch")
    assert labels.shape == (48,) and labels.dtype == torch.long
    assert torch.equal(labels[:, None] == labels[None, :], blob[:, None] == blob[None, :])


def test_an_empty_cluster_keeps_its_centroid():
    x = torch.tensor([[0.0], [0.0], [0.0], [10.0]])  # three identical rows: two centroids may tie
    labels = kmeans(x, 3, seed=0, iters=3, backend="torch")
    assert len(labels.unique()) == 2, "the case must empty a cluster"
    assert labels.tolist() == direct_lloyd(x.tolist(), initial_centroids(x, 3, 0).tolist(), 3)


def test_bad_arguments_are_refused():
    x = torch.randn(5, 2)
    with pytest.raises(ValueError, match="k must lie in"):
        kmeans(x, 6, 0)
    with pytest.raises(ValueError, match="iters"):
        kmeans(x, 2, 0, iters=0)
    with pytest.raises(ValueError, match="backend"):
        kmeans(x, 2, 0, backend="sklearn")


def test_faiss_backend_without_faiss_names_the_install(monkeypatch):
    import ssl_la.kmeans

    monkeypatch.setattr(ssl_la.kmeans, "faiss_available", lambda: False)  # as on a machine without faiss
    with pytest.raises(ValueError, match="pip install faiss-cpu"):
        kmeans(torch.randn(5, 2), 2, 0, backend="faiss")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_faiss_and_torch_give_the_same_clustering(seed):
    if not faiss_available():
        pytest.skip("faiss is not installed (pip install faiss-cpu); its k-means path is untested here")
    x, _ = blobs(seed, n_per=20, centres=5, dim=8)
    torch_labels = kmeans(x, 5, seed, iters=20, backend="torch")
    faiss_labels = kmeans(x, 5, seed, iters=20, backend="faiss")
    assert torch.bincount(torch_labels, minlength=5).min() > 0, "no empty cluster: the backends must agree"
    assert torch.equal(torch_labels, faiss_labels)


@pytest.mark.parametrize("seed", [0, 1])
def test_faiss_and_torch_agree_on_bank_like_points(seed):
    if not faiss_available():
        pytest.skip("faiss is not installed (pip install faiss-cpu); its k-means path is untested here")
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(600, 16, generator=g), dim=1)  # unit vectors, no structure
    torch_labels = kmeans(x, 20, seed, iters=20, backend="torch")
    assert torch.bincount(torch_labels, minlength=20).min() > 0, "no empty cluster: the backends must agree"
    assert torch.equal(torch_labels, kmeans(x, 20, seed, iters=20, backend="faiss"))
