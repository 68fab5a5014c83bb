"""Transfer suites: named lists of (dataset, task) pairs that an evaluator runs over."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SuiteTask:
    """One task of a transfer suite.

    Attributes:
        title: the row name in the results table (e.g. ``"fsdd digit"``).
        dataset: a registered dataset name.
        params: that dataset's parameters (e.g. ``{"task": "speaker"}``).
        views: the registered views that prepare its inputs (None: the pipeline's).
        views_params: their parameters.
    """

    title: str
    dataset: str
    params: dict = field(default_factory=dict)
    views: str | None = None
    views_params: dict = field(default_factory=dict)
