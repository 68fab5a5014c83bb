"""Transfer suites: every built-in suite's tasks name registered datasets and views."""

from __future__ import annotations

from ssl_core import make_registry
from ssl_core.suite import SuiteTask


def test_built_in_suites_name_registered_components():
    registry = make_registry(autoload=False, warn=False)
    for name in registry.names("suite"):
        tasks = registry.build("suite", name, {})
        assert tasks and all(isinstance(t, SuiteTask) for t in tasks), name
        for task in tasks:
            registry.get("dataset", task.dataset)
            if task.views:
                registry.get("views", task.views)
    assert SuiteTask("t", "d").params == {} and SuiteTask("t", "d").views is None
