"""The transfer evaluator runs every task of a suite and lists absent ones as skipped."""

from __future__ import annotations

from ssl_eval.transfer import Transfer

from eval_fixtures import blobs_context


def test_suite_reports_present_and_skipped_tasks(tmp_path):
    result = Transfer(suite="blobs_suite", layer="pooled", epochs=30, lrs=[1.0]).evaluate(blobs_context(tmp_path))
    assert set(result["metrics"]) == {"blobs/top1", "blobs/top5"}
    assert result["metrics"]["blobs/top1"] > 0.7  # chance is 0.25
    assert "absent blobs" in result["protocol"]["skipped"]
    assert "/nowhere/blobs" in result["protocol"]["skipped"]["absent blobs"]
    table = result["tables"]["suite blobs_suite"]
    assert "| absent blobs | | | skipped:" in table and "| blobs |" in table


def test_image_mini_suite_on_real_cifar10_jpegs(tmp_path, shared_data):
    """The transfer evaluator over real CIFAR-10 JPEGs (20 per class), frozen small CNN, plus a missing tree."""
    import torch

    from ssl_core import hookimpl, make_registry
    from ssl_core.eval_context import EvalContext
    from ssl_core.suite import SuiteTask

    class MissingTree:
        @hookimpl
        def ssl_core_suites(self):
            return {"with_missing": lambda: [
                SuiteTask("cifar jpg", "image_folder", {"root": str(shared_data / "cifar10-jpg"), "per_class": 20,
                                                        "subset_test": True}, "image", {"size": 32}),
                SuiteTask("absent tree", "image_folder", {"root": str(tmp_path / "nowhere")}, "image", {"size": 32})]}

    registry = make_registry(plugins=[MissingTree()], autoload=False, warn=False)
    torch.manual_seed(0)
    encoder = registry.build("encoder", "small_cnn", {"width": 4}, in_channels=3).eval()
    ctx = EvalContext(encoder=encoder, registry=registry, dataset="image_folder", dataset_params={}, views=None,
                      run_dir=tmp_path, batch_size=100)
    real = Transfer(suite="image_mini", suite_params={"per_class": 20}, layer="pooled", epochs=5, lrs=[0.1]).evaluate(ctx)
    (title,) = [k[: -len("/top1")] for k in real["metrics"] if k.endswith("/top1")]
    assert real["protocol"]["per_task"][title]["train_examples"] == 200
    assert real["protocol"]["per_task"][title]["test_examples"] == 200
    assert 0.0 <= real["metrics"][f"{title}/top1"] <= 1.0 and real["protocol"]["skipped"] == {}
    mixed = Transfer(suite="with_missing", layer="pooled", epochs=2, lrs=[0.1]).evaluate(ctx)
    assert "cifar jpg/top1" in mixed["metrics"] and "absent tree" in mixed["protocol"]["skipped"]
    assert str(tmp_path / "nowhere") in mixed["protocol"]["skipped"]["absent tree"]
