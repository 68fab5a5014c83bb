"""Built-in evaluators."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_eval.knn import KNN
from ssl_eval.linear_probe import LinearProbe


@hookimpl
def ssl_core_evaluators():
    return {
        "linear_probe": LinearProbe,
        "knn": KNN,
    }
