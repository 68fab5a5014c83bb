"""Built-in image datasets, views and transfer suites."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_image.digits import Digits
from ssl_image.digits_views import DigitsViews


@hookimpl
def ssl_core_datasets():
    return {
        "digits": Digits,
    }


@hookimpl
def ssl_core_views():
    return {
        "digits": DigitsViews,
    }


@hookimpl
def ssl_core_suites():
    return {}
