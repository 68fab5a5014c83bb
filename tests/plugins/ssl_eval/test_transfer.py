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
