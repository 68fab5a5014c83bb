"""Built-in contrastive objectives and negative sources."""

from __future__ import annotations

from ssl_contrastive.cmc import CMC
from ssl_contrastive.in_batch import InBatchNegatives
from ssl_contrastive.ir import IR
from ssl_contrastive.memory_bank import MemoryBank
from ssl_contrastive.moco import MoCo
from ssl_contrastive.queue import KeyQueue
from ssl_contrastive.simclr import SimCLR
from ssl_core import hookimpl


@hookimpl
def ssl_core_objectives():
    return {
        "simclr": SimCLR,
        "ir": IR,
        "moco": MoCo,
        "cmc": CMC,
    }


@hookimpl
def ssl_core_samplers():
    return {
        "in_batch": InBatchNegatives,
        "memory_bank": MemoryBank,
        "queue": KeyQueue,
    }
