"""Built-in encoders."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_encoders.small_cnn import SmallCNN


@hookimpl
def ssl_core_encoders():
    return {
        "small_cnn": SmallCNN,
    }
