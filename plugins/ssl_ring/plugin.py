"""Built-in negative selectors: the CNCE ring (Wu et al., 2021)."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_ring.ring_selector import RingSelector


@hookimpl
def ssl_core_selectors():
    return {"ring": RingSelector}
