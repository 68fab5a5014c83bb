"""Image transfer suites: the CNCE paper's transfer datasets (Table 3), and a small one on the shared CIFAR-10 JPEGs.

``image_transfer`` lists the Meta-Dataset collection (Triantafillou et al.,
2020) that the CNCE paper transfers its CIFAR-10 representations to, with
linear classification on frozen features. Six datasets have torchvision
loaders (registered as thin wrappers in :mod:`ssl_image.transfer_datasets`);
CUB, Fungi and MS-COCO have none and are read as ``image_folder`` trees that
the user prepares once, in this layout (``<root>`` is the suite's ``root``)::

    <root>/cub/{train,test}/<class>/*.jpg
        CUB-200-2011: images/<class>/*.jpg split by the official
        train_test_split.txt (1 = train, 0 = test); 200 classes.
    <root>/fungi/{train,test}/<class>/*.jpg
        FGVCx Fungi 2018: the images of train.json under train/, those of
        val.json under test/, one folder per category_id; 1,394 classes.
    <root>/coco/{train,test}/<category>/*.jpg
        MS-COCO 2017 object crops, as in Meta-Dataset: every box of
        instances_train2017.json cropped from its image under train/, those
        of instances_val2017.json under test/, one folder per category
        name; 80 classes.

Each task normalises with the mean and std of its own training split (the
CNCE paper's "we compute mean and variance from a training split"), through
the ``stats_from`` parameter of the ``image`` views, and resizes to ``size``
(32 for CIFAR-trained encoders). An absent dataset raises
``FileNotFoundError`` when it is built; the transfer evaluator reports it as
skipped.
"""

from __future__ import annotations

from pathlib import Path

from ssl_core.suite import SuiteTask

SHARED_CIFAR10_JPG = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cifar10-jpg"
"""The project machines' real CIFAR-10 JPEG tree (``../shared/data/cifar10-jpg`` from the repository)."""


def _task(title: str, dataset: str, params: dict, size: int, stats_items: int) -> SuiteTask:
    views = {"size": size, "augment": "crop_flip", "stats_from": dataset, "stats_params": params,
             "stats_items": stats_items}
    return SuiteTask(title, dataset, params, "image", views)


def image_transfer(root: str = "data", size: int = 32, stats_items: int = 5000) -> list[SuiteTask]:
    """The nine transfer datasets of the CNCE paper's Table 3, in its column order.

    Args:
        root: the folder holding every dataset in its layout (see the module docstring).
        size: the side images are resized and centre-cropped to (the pretraining size).
        stats_items: training images sampled per dataset for its normalisation statistics.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    r = str(Path(root).expanduser())
    return [
        _task("Aircraft", "fgvc_aircraft", {"root": r}, size, stats_items),
        _task("CUBirds", "image_folder", {"root": f"{r}/cub"}, size, stats_items),
        _task("DTD", "dtd", {"root": r}, size, stats_items),
        _task("Fungi", "image_folder", {"root": f"{r}/fungi"}, size, stats_items),
        _task("MNIST", "mnist", {"root": r}, size, stats_items),
        _task("FashionMNIST", "fashion_mnist", {"root": r}, size, stats_items),
        _task("TrafficSign", "gtsrb", {"root": r}, size, stats_items),
        _task("VGGFlower", "flowers102", {"root": r}, size, stats_items),
        _task("MSCOCO", "image_folder", {"root": f"{r}/coco"}, size, stats_items),
    ]


def image_mini(root: str | None = None, per_class: int = 100) -> list[SuiteTask]:
    """One small task on real data: CIFAR-10 JPEGs, ``per_class`` images of each class in each split.

    Args:
        root: the ``cifar10-jpg`` tree (``{train,test}/<class>/*.jpg``); null means ``../shared/data/cifar10-jpg``.
        per_class: images per class kept in both splits (seeded).
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    params = {"root": str(Path(root).expanduser()) if root else str(SHARED_CIFAR10_JPG), "per_class": per_class,
              "subset_test": True}
    return [SuiteTask(f"CIFAR-10 jpg ({per_class}/class)", "image_folder", params, "image",
                      {"size": 32, "augment": "crop_flip"})]
