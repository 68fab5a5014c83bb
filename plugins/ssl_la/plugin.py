"""Local Aggregation (Zhuang et al., 2019), the CNCE paper's LA baseline, as an objective."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_la.local_aggregation import LocalAggregation


@hookimpl
def ssl_core_objectives():
    return {"la": LocalAggregation}
