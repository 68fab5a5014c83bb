"""The image transfer suites: their tasks name registered components with valid params."""

from __future__ import annotations

import pytest

from ssl_core.params import validate_params
from ssl_core.registry import CONTEXT_PARAMS, make_registry
from ssl_image.image_suite import image_transfer


@pytest.fixture(scope="module")
def registry():
    reg = make_registry(autoload=False, warn=False)
    if "image_transfer" not in reg.names("suite"):
        pytest.skip("image suites not registered in ssl_image.plugin yet")
    return reg


def test_transfer_suite_lists_the_cnce_table3_datasets(registry):
    tasks = registry.build("suite", "image_transfer", {"root": "/nonexistent"})
    assert [t.title for t in tasks] == ["Aircraft", "CUBirds", "DTD", "Fungi", "MNIST", "FashionMNIST",
                                        "TrafficSign", "VGGFlower", "MSCOCO"]
    for task in tasks:
        dataset = registry.get("dataset", task.dataset)
        validate_params(dataset.factory, task.params, CONTEXT_PARAMS["dataset"])
        views = registry.get("views", task.views)
        validate_params(views.factory, task.views_params, ())
        assert task.views_params["stats_from"] == task.dataset and task.views_params["size"] == 32


@pytest.mark.parametrize("title", ["DTD", "CUBirds", "MSCOCO"])
def test_absent_transfer_datasets_raise_file_not_found(registry, tmp_path, title):
    task = next(t for t in image_transfer(root=str(tmp_path)) if t.title == title)
    with pytest.raises(FileNotFoundError):
        registry.build("dataset", task.dataset, task.params, split="train")


def test_mini_suite_reads_the_shared_cifar10_jpg(registry, shared_data):
    (task,) = registry.build("suite", "image_mini", {"per_class": 3})
    test = registry.build("dataset", task.dataset, task.params, split="test")
    assert len(test) == 30 and test.num_classes == 10
    views = registry.build("views", task.views, task.views_params)
    assert views.eval(test[0][0]).shape == (3, 32, 32)
