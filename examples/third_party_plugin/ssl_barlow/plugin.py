"""The plugin module named by the entry point: it registers one objective."""

from ssl_core import hookimpl

from ssl_barlow.barlow_twins import BarlowTwins


@hookimpl
def ssl_core_objectives():
    return {"barlow_twins": BarlowTwins}
