"""Mean average precision of Hamming ranking (mAP@all and mAP@R), exact and fast.

Ranking: the database sorted by Hamming distance to the query, ties broken
by database index (a stable sort). Relevance: equal labels (single-label,
labels ``[N]``) or at least one shared label (multi-label, multi-hot labels
``[N, L]``), as in the deep-hashing protocols the NAC paper follows
(Section 4.3, Tables 3-4).

``AP@all`` of a query is the mean, over its relevant database items, of the
precision at each one's rank; a query with no relevant item scores 0.
``AP@R`` looks at the top ``R`` only: the mean of the precision at the ranks
of the relevant items among the top ``R`` (0 if there is none) -- the
convention of the common deep-hashing evaluation code (``CalcTopMap``), whose
mAP divides by the number of queries, empty ones included.

Algorithm. A distance takes only ``D + 1`` values, so the stable ranking is
a counting sort: with ``n_v`` items at distance ``v`` and
``start_v = sum_{u<v} n_u``, item ``j`` lands at rank
``start_{d_j} + #{k <= j : d_k = d_j}``, and a relevant ``j`` is the ``t``-th
hit with ``t`` given by the same count over relevant items only. So one pass
over the database in index order that computes the distances and the bucket
counts, then a second pass with one running counter per distance, give every
hit's rank and ``t`` without sorting: ``AP = (1/#hits) sum_hits t / rank``.
Bucket counts alone are not enough: with ties broken by index, a hit's rank
inside its bucket depends on how many non-relevant items of the bucket
precede it, hence the second pass. Both passes are compiled with numba (a
dependency of librosa) on codes packed into 64-bit words (distance = popcount
of the XOR) and run over queries in parallel threads (the compiled code
releases the GIL); nothing of size ``Q x N`` is stored. Without numba, or
with ``backend="numpy"``, the distances come from a torch matmul on +-1
float codes, ``d = (D - q . c) / 2`` (Eq. 4), in chunks of queries, and the
ranking from a radix ``argsort(kind="stable")`` per row: the same numbers,
much more slowly (about as slow as the naive loop, see
``benchmarks/results/hash_map.md``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np
import torch
from torch import Tensor

try:  # numba ships with librosa, a dependency of ssl-core
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None

Backend = Literal["auto", "numba", "numpy"]


def sign_codes(codes: Tensor | np.ndarray) -> Tensor:
    """Codes as a float32 tensor of +-1: an entry is +1 iff it is > 0 (or ``True``)."""
    codes = torch.as_tensor(np.asarray(codes) if not isinstance(codes, Tensor) else codes)
    if codes.dtype == torch.bool:
        return codes.float() * 2 - 1
    return torch.where(codes > 0, 1.0, -1.0)


def _as_numpy(x: Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def relevance(query_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    """``[Q, N]`` booleans: equal labels (1-D labels) or at least one shared label (2-D multi-hot)."""
    if query_labels.ndim == 1 and db_labels.ndim == 1:
        return query_labels[:, None] == db_labels[None, :]
    if query_labels.ndim == 2 and db_labels.ndim == 2:
        q = torch.as_tensor(query_labels > 0, dtype=torch.float32)
        shared = q @ torch.as_tensor(db_labels > 0, dtype=torch.float32).T
        return (shared > 0).numpy()
    raise ValueError("labels must be both 1-D (single-label) or both 2-D (multi-hot); "
                     f"got {query_labels.ndim}-D and {db_labels.ndim}-D")


def hamming_distance_chunks(query: Tensor, database: Tensor, chunk_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first query, [q, N] integer distances)`` for chunks of ``chunk_size`` queries (Eq. 4)."""
    num_bits = query.shape[1]
    dtype = np.uint8 if num_bits < 256 else np.uint16 if num_bits < 65536 else np.int64
    for start in range(0, query.shape[0], chunk_size):
        dots = query[start:start + chunk_size] @ database.T
        yield start, ((num_bits - dots) * 0.5).round_().numpy().astype(dtype)


def _rank_chunk_numpy(dist: np.ndarray, rel: np.ndarray, cutoff: int, num_bins: int):
    q, n = dist.shape
    order = np.argsort(dist, axis=1, kind="stable")
    hits = np.take_along_axis(rel, order, axis=1)
    cum = np.cumsum(hits, axis=1)
    precision = np.where(hits, cum / np.arange(1, n + 1), 0.0)
    total = cum[:, -1]
    ap_all = np.divide(precision.sum(axis=1), total, out=np.zeros(q), where=total > 0)
    top = cum[:, cutoff - 1]
    ap_r = np.divide(precision[:, :cutoff].sum(axis=1), top, out=np.zeros(q), where=top > 0)
    flat = (np.arange(q)[:, None] * num_bins + dist).ravel()
    hist = np.bincount(flat, minlength=q * num_bins).reshape(q, num_bins)
    rel_hist = np.bincount(flat, weights=rel.ravel(), minlength=q * num_bins).reshape(q, num_bins).astype(np.int64)
    return ap_all, ap_r, hist, rel_hist


def pack_words(bits: np.ndarray) -> np.ndarray:
    """Pack ``[N, D]`` booleans into ``[N, ceil(D / 64)]`` uint64 words (zero padding)."""
    packed = np.packbits(np.asarray(bits, dtype=bool), axis=1)
    pad = (-packed.shape[1]) % 8
    packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def label_words(labels: np.ndarray) -> tuple[np.ndarray, bool]:
    """Labels as uint64 words for the compiled pass, and whether they are multi-hot."""
    if labels.ndim == 1:
        return np.ascontiguousarray(labels.astype(np.int64).view(np.uint64)[:, None]), False
    return pack_words(labels > 0), True


if numba is not None:

    @numba.njit(inline="always")
    def _popcount64(x):  # pragma: no cover - compiled
        x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
        x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
        x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)

    def _compile(function):
        try:  # the compiled code is cached on disk when a cache folder is writable
            return numba.njit(nogil=True, cache=True)(function)
        except RuntimeError:  # pragma: no cover - no writable cache location
            return numba.njit(nogil=True)(function)

    @_compile
    def _rank_numba(query, database, qlab, dblab, multi, cutoff, ap_all, ap_r, hist, rel_hist,
                    first, last):  # pragma: no cover - compiled
        n, words, lwords, num_bins = database.shape[0], query.shape[1], qlab.shape[1], hist.shape[1]
        dist = np.empty(n, np.int64)
        rel = np.empty(n, np.bool_)
        rank = np.empty(num_bins, np.int64)  # rank of the last item met at each distance
        hit = np.empty(num_bins, np.int64)  # hits up to and including it
        for i in range(first, last):
            h = hist[i]
            rh = rel_hist[i]
            for j in range(n):  # pass 1: distances (popcount of XOR), relevance, bucket counts
                d = 0
                for w in range(words):
                    d += _popcount64(query[i, w] ^ database[j, w])
                r = False
                if multi:
                    for w in range(lwords):
                        if qlab[i, w] & dblab[j, w]:
                            r = True
                else:
                    r = qlab[i, 0] == dblab[j, 0]
                dist[j] = d
                rel[j] = r
                h[d] += 1
                if r:
                    rh[d] += 1
            items, hits = 0, 0
            for v in range(num_bins):
                rank[v] = items
                hit[v] = hits
                items += h[v]
                hits += rh[v]
            acc_all, acc_r, hits_r = 0.0, 0.0, 0
            for j in range(n):  # pass 2: stable counting sort, in database order
                v = dist[j]
                rank[v] += 1
                if rel[j]:
                    hit[v] += 1
                    precision = hit[v] / rank[v]
                    acc_all += precision
                    if rank[v] <= cutoff:
                        acc_r += precision
                        hits_r += 1
            if hits > 0:
                ap_all[i] = acc_all / hits
            if hits_r > 0:
                ap_r[i] = acc_r / hits_r


def _rank_compiled(query: np.ndarray, database: np.ndarray, qlab: np.ndarray, dblab: np.ndarray, multi: bool,
                   cutoff: int, num_bins: int):
    """Run the compiled passes over query ranges in threads (the kernel releases the GIL)."""
    q = query.shape[0]
    ap_all, ap_r = np.zeros(q), np.zeros(q)
    hist, rel_hist = np.zeros((q, num_bins), np.int64), np.zeros((q, num_bins), np.int64)
    threads = max(1, min(torch.get_num_threads(), q))
    bounds = np.linspace(0, q, threads + 1).astype(int)
    args = (query, database, qlab, dblab, multi, cutoff, ap_all, ap_r, hist, rel_hist)
    if threads == 1:
        _rank_numba(*args, 0, q)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda k: _rank_numba(*args, bounds[k], bounds[k + 1]), range(threads)))
    return ap_all, ap_r, hist, rel_hist


@dataclass
class HammingRanking:
    """Per-query results of ranking a database by Hamming distance.

    Attributes:
        ap_all: ``[Q]`` average precision over the full ranking.
        ap_at_r: ``[Q]`` average precision in the top ``R`` (``None`` if no ``R``).
        hist: ``[Q, D + 1]`` database items at each distance.
        rel_hist: ``[Q, D + 1]`` relevant items at each distance.
        R: the cut-off used (``None``: none).
    """

    ap_all: np.ndarray
    ap_at_r: np.ndarray | None
    hist: np.ndarray
    rel_hist: np.ndarray
    R: int | None

    @property
    def map_at_all(self) -> float:
        return float(self.ap_all.mean())

    @property
    def map_at_r(self) -> float | None:
        return None if self.ap_at_r is None else float(self.ap_at_r.mean())


def hamming_ranking(query_codes, db_codes, query_labels, db_labels, R: int | None = None,
                    chunk_size: int | None = None, backend: Backend = "auto") -> HammingRanking:
    """Rank ``db_codes`` for every query by Hamming distance and score it (see the module doc).

    Args:
        query_codes: ``[Q, D]`` codes (+-1, bits, or real values whose sign is the code).
        db_codes: ``[N, D]`` codes, same convention.
        query_labels: ``[Q]`` class ids, or ``[Q, L]`` multi-hot labels.
        db_labels: ``[N]`` or ``[N, L]``, matching ``query_labels``.
        R: cut-off of mAP@R (``None``: only mAP@all).
        chunk_size: queries per chunk of the numpy backend (default: about 2**25 distances).
        backend: ``"numba"`` (compiled pass), ``"numpy"`` (radix argsort), or ``"auto"``.
    """
    query, database = sign_codes(query_codes), sign_codes(db_codes)
    if query.ndim != 2 or database.ndim != 2 or query.shape[1] != database.shape[1]:
        raise ValueError(f"codes must be [Q, D] and [N, D] with the same D, "
                         f"got {tuple(query.shape)} and {tuple(database.shape)}")
    qlab, dblab = _as_numpy(query_labels), _as_numpy(db_labels)
    if len(qlab) != query.shape[0] or len(dblab) != database.shape[0]:
        raise ValueError("there must be one label (row) per code")
    if R is not None and R < 1:
        raise ValueError(f"R must be >= 1, got {R}")
    if qlab.ndim != dblab.ndim or qlab.ndim not in (1, 2):
        raise ValueError("labels must be both 1-D (single-label) or both 2-D (multi-hot); "
                         f"got {qlab.ndim}-D and {dblab.ndim}-D")
    if backend == "numba" and numba is None:
        raise ValueError("backend 'numba' requested but numba is not installed")
    n, num_bins = database.shape[0], query.shape[1] + 1
    if num_bins > 65536:
        raise ValueError(f"codes of more than 65535 bits are not supported, got {num_bins - 1}")
    cutoff = n if R is None else min(R, n)
    if backend != "numpy" and numba is not None:
        (ql, multi), (dl, _) = label_words(qlab), label_words(dblab)
        ap_all, ap_r, hist, rel_hist = _rank_compiled(pack_words(query.numpy() > 0), pack_words(database.numpy() > 0),
                                                      ql, dl, multi, cutoff, num_bins)
    else:
        chunk_size = chunk_size or max(1, 2**25 // max(n, 1))
        parts = []
        for start, dist in hamming_distance_chunks(query, database, chunk_size):
            rel = relevance(qlab[start:start + dist.shape[0]], dblab)
            parts.append(_rank_chunk_numpy(dist, rel, cutoff, num_bins))
        ap_all, ap_r, hist, rel_hist = (np.concatenate(p) for p in zip(*parts))
    return HammingRanking(ap_all, None if R is None else ap_r, hist, rel_hist, R)


def mean_average_precision(query_codes, db_codes, query_labels, db_labels, R: int | None = None,
                           chunk_size: int | None = None, backend: Backend = "auto") -> float:
    """mAP@all (``R=None``) or mAP@R of Hamming ranking with index tie-breaking."""
    ranking = hamming_ranking(query_codes, db_codes, query_labels, db_labels, R, chunk_size, backend)
    return ranking.map_at_all if R is None else ranking.map_at_r
