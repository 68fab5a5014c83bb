"""Built-in image datasets, views and transfer suites."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_image.cifar import cifar10, cifar100
from ssl_image.digits import Digits
from ssl_image.digits_views import DigitsViews
from ssl_image.flickr25k import Flickr25k
from ssl_image.image_folder import image_folder
from ssl_image.image_suite import image_mini, image_transfer
from ssl_image.image_views import ImageViews
from ssl_image.stl10 import stl10
from ssl_image.transfer_datasets import dtd, fashion_mnist, fgvc_aircraft, flowers102, gtsrb, mnist


@hookimpl
def ssl_core_datasets():
    return {
        "digits": Digits,
        "cifar10": cifar10,
        "cifar100": cifar100,
        "stl10": stl10,
        "image_folder": image_folder,
        "fgvc_aircraft": fgvc_aircraft,
        "dtd": dtd,
        "flowers102": flowers102,
        "gtsrb": gtsrb,
        "mnist": mnist,
        "fashion_mnist": fashion_mnist,
        "flickr25k": Flickr25k,
    }


@hookimpl
def ssl_core_views():
    return {
        "digits": DigitsViews,
        "image": ImageViews,
    }


@hookimpl
def ssl_core_suites():
    return {
        "image_transfer": image_transfer,
        "image_mini": image_mini,
    }
