"""mAP of Hamming ranking: equal to a naive per-query stable argsort, hand-made cases, PR by radius."""

from __future__ import annotations

import numpy as np
import pytest

from ssl_eval import mean_average_precision as mapmod
from ssl_eval.mean_average_precision import hamming_ranking, mean_average_precision
from ssl_eval.precision_recall import plot_precision_recall, precision_recall_by_radius

BACKENDS = ["numpy"] + (["numba"] if mapmod.numba is not None else [])


def naive_ap(query, database, qlab, dblab, R=None):
    """Per query: Hamming distances, stable argsort (ties by index), precision at each hit."""
    ap_all, ap_r = [], []
    for i in range(len(query)):
        dist = (query[i] != database).sum(axis=1)
        order = np.argsort(dist, kind="stable")
        rel = (dblab == qlab[i]) if qlab.ndim == 1 else ((dblab & qlab[i]).sum(axis=1) > 0)
        rel = rel[order]
        hits = np.flatnonzero(rel)
        precision = np.arange(1, len(hits) + 1) / (hits + 1)
        ap_all.append(precision.mean() if len(hits) else 0.0)
        if R is not None:
            top = hits < R
            ap_r.append(precision[top].mean() if top.any() else 0.0)
    return np.array(ap_all), np.array(ap_r)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("multi", [False, True])
def test_equals_naive_with_many_ties(backend, multi):
    rng = np.random.default_rng(0)
    query = rng.random((40, 6)) < 0.5  # 6 bits, 300 items: every distance is shared by many items
    database = rng.random((300, 6)) < 0.5
    if multi:
        qlab, dblab = (rng.random((40, 5)) < 0.2).astype(np.int64), (rng.random((300, 5)) < 0.2).astype(np.int64)
    else:
        qlab, dblab = rng.integers(0, 4, 40), rng.integers(0, 4, 300)
    want_all, want_r = naive_ap(query, database, qlab, dblab, R=37)
    got = hamming_ranking(query, database, qlab, dblab, R=37, backend=backend, chunk_size=7)
    assert np.abs(got.ap_all - want_all).max() < 1e-9
    assert np.abs(got.ap_at_r - want_r).max() < 1e-9
    assert abs(got.map_at_all - want_all.mean()) < 1e-9
    assert abs(mean_average_precision(query * 2 - 1, database * 2.0 - 1, qlab, dblab, backend=backend)
               - want_all.mean()) < 1e-9


@pytest.mark.parametrize("backend", BACKENDS)
def test_equals_naive_on_128_bits(backend):
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 128))
    qlab, dblab = rng.integers(0, 3, 25), rng.integers(0, 3, 500)
    query = centers[qlab] + rng.normal(0, 2, (25, 128)) > 0
    database = centers[dblab] + rng.normal(0, 2, (500, 128)) > 0
    want, _ = naive_ap(query, database, qlab, dblab)
    assert np.abs(hamming_ranking(query, database, qlab, dblab, backend=backend).ap_all - want).max() < 1e-9


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_made_cases_with_known_ap(backend):
    q = np.array([[-1, -1, -1]])
    # distances 0, 1, 1, 2; relevant, not, relevant, not -> AP = (1/1 + 2/3) / 2
    db = np.array([[-1, -1, -1], [1, -1, -1], [-1, 1, -1], [1, 1, -1]])
    r = hamming_ranking(q, db, [1], [1, 0, 1, 0], R=2, backend=backend)
    assert r.ap_all[0] == pytest.approx(5 / 6, abs=1e-12)
    assert r.ap_at_r[0] == pytest.approx(1.0, abs=1e-12)  # top 2: one hit at rank 1
    # ties at distance 1 broken by database index: the non-relevant item 0 comes before item 1
    db = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, -1]])
    assert hamming_ranking(q, db, [1], [0, 1, 1], backend=backend).ap_all[0] == pytest.approx(5 / 6, abs=1e-12)
    assert hamming_ranking(q, db, [1], [1, 0, 1], backend=backend).ap_all[0] == pytest.approx(1.0, abs=1e-12)
    # no relevant item: AP 0; multi-label: relevant when sharing a label
    assert hamming_ranking(q, db, [7], [0, 1, 1], backend=backend).ap_all[0] == 0.0
    multi = hamming_ranking(q, db, np.array([[1, 0, 1]]), np.array([[0, 1, 0], [0, 0, 1], [1, 1, 0]]), backend=backend)
    assert multi.ap_all[0] == pytest.approx((1 / 1 + 2 / 3) / 2, abs=1e-12)  # ranking 2 (hit), 0, 1 (hit)


def test_precision_recall_by_radius_and_plot(tmp_path):
    q = np.array([[-1, -1, -1]])
    db = np.array([[-1, -1, -1], [1, -1, -1], [-1, 1, -1], [1, 1, -1]])
    r = hamming_ranking(q, db, [1], [1, 0, 1, 0])
    assert r.hist.tolist() == [[1, 2, 1, 0]] and r.rel_hist.tolist() == [[1, 1, 0, 0]]
    curve = precision_recall_by_radius(r.hist, r.rel_hist)
    assert curve.precision.tolist() == pytest.approx([1.0, 2 / 3, 0.5, 0.5])
    assert curve.recall.tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0])
    # nothing retrieved at radius 0 for a far query: precision counted as 0
    far = precision_recall_by_radius(np.array([[0, 1]]), np.array([[0, 1]]))
    assert far.precision.tolist() == [0.0, 1.0]
    path = plot_precision_recall(curve, tmp_path / "pr.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_input_errors():
    with pytest.raises(ValueError, match="same D"):
        hamming_ranking(np.ones((2, 3)), np.ones((2, 4)), [0, 1], [0, 1])
    with pytest.raises(ValueError, match="1-D"):
        hamming_ranking(np.ones((2, 3)), np.ones((2, 3)), [0, 1], np.ones((2, 2)))
    with pytest.raises(ValueError, match="R must be"):
        hamming_ranking(np.ones((2, 3)), np.ones((2, 3)), [0, 1], [0, 1], R=0)
