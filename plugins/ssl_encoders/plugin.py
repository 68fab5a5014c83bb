"""Built-in encoders, and the export formats of their trained weights."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_encoders.export_formats import Detectron2Export, TorchvisionExport
from ssl_encoders.resnet import ResNet18, ResNet50
from ssl_encoders.small_cnn import SmallCNN
from ssl_encoders.vgg import VGG16BN


@hookimpl
def ssl_core_encoders():
    return {
        "small_cnn": SmallCNN,
        "resnet18": ResNet18,
        "resnet50": ResNet50,
        "vgg16_bn": VGG16BN,
    }


@hookimpl
def ssl_core_export_formats():
    return {"torchvision": TorchvisionExport, "detectron2": Detectron2Export}
