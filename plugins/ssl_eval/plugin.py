"""Built-in evaluators, and the retrieval-split dataset wrapper they pair with."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_eval.code_statistics import CodeStatistics
from ssl_eval.hash_retrieval import HashRetrieval
from ssl_eval.knn import KNN
from ssl_eval.linear_probe import LinearProbe
from ssl_eval.retrieval_subset import retrieval_subset
from ssl_eval.transfer import Transfer
from ssl_eval.vae import VAEPretraining


@hookimpl
def ssl_core_evaluators():
    return {
        "linear_probe": LinearProbe,
        "knn": KNN,
        "transfer": Transfer,
        "vae_pretraining": VAEPretraining,
        "hash_retrieval": HashRetrieval,
        "code_statistics": CodeStatistics,
    }


@hookimpl
def ssl_core_datasets():
    return {"retrieval_subset": retrieval_subset}
