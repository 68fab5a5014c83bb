"""The NAC plugin: NAC and NAC with a momentum queue (Park et al., 2021)."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_nac.codes_command import add_codes_command
from ssl_nac.nac import NAC
from ssl_nac.nac_momentum_queue import NACMomentumQueue


@hookimpl
def ssl_core_objectives():
    return {"nac": NAC, "nac_mq": NACMomentumQueue}


@hookimpl
def ssl_core_add_commands(subparsers):
    add_codes_command(subparsers)
