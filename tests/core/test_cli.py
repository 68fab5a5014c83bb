"""The ssl-core command end to end: run (train + evaluate), eval, plugins, errors."""

from __future__ import annotations

import json

import pytest

from ssl_core.cli import main

from pipeline_helpers import tiny_pipeline


def test_digits_pipeline_end_to_end(tmp_path, capsys):
    extra = "evaluate:\n  - {name: linear_probe, params: {epochs: 30, lrs: [0.1, 1.0]}}\n  - {name: knn, params: {k: 10}}\n" \
            "eval_options: {random_init_baseline: true}\n"
    path = tiny_pipeline(tmp_path, epochs=2, extra=extra.replace("output", "x"))
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| linear_probe | top1 |" in out and "random init" in out
    run_dir = tmp_path / "run"
    results = json.loads((run_dir / "results.json").read_text())
    by = {(r["evaluator"], r["encoder"]): r["metrics"]["top1"] for r in results["evaluations"]}
    assert set(by) == {("linear_probe", "pretrained"), ("linear_probe", "random init"),
                       ("knn", "pretrained"), ("knn", "random init")}
    assert all(0.0 <= v <= 1.0 for v in by.values())
    assert by[("linear_probe", "pretrained")] > 0.5  # 10 classes: far above chance even at this size
    assert results["pipeline"]["train"]["epochs"] == 2 and len(results["checkpoint_sha256"]) == 64
    assert results["evaluations"][0]["protocol"]["lr_selection"].startswith("held-out")
    assert (run_dir / "results.md").read_text().startswith("# Results: tiny")
    assert (run_dir / "training_curves.png").stat().st_size > 1000

    assert main(["eval", str(run_dir)]) == 0
    assert json.loads((run_dir / "results.json").read_text())["checkpoint_sha256"] == results["checkpoint_sha256"]


def test_plugins_listing(capsys):
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)["components"]
    simclr = next(c for c in listing["objective"] if c["name"] == "simclr")
    assert simclr["plugin"] == "ssl_contrastive.plugin"
    assert {"name": "temperature", "type": "float", "default": 0.5, "required": False,
            "doc": "tau of Eq. 21."} in simclr["params"]
    assert main(["plugins"]) == 0
    assert "small_cnn" in capsys.readouterr().out


def test_help_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0 and "run" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "absent.yaml")]) == 2
    assert "pipeline file not found" in capsys.readouterr().err
    path = tiny_pipeline(tmp_path)
    assert main(["run", str(path), "train.epochz=1"]) == 2
    assert "valid choices: epochs" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nothing")]) == 2
    assert "no trained model" in capsys.readouterr().err


def test_overrides_may_follow_resume(tmp_path, capsys):
    path = tiny_pipeline(tmp_path)
    assert main(["run", str(path), "--resume", "train.epochz=1"]) == 2  # parsed as an override, then refused by name
    assert "valid choices: epochs" in capsys.readouterr().err


def test_a_corrupt_image_is_a_plain_error_naming_the_file(tmp_path, capsys):
    from PIL import Image

    for split in ("train", "test"):
        for label in ("a", "b"):
            folder = tmp_path / "tree" / split / label
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (8, 8), (i * 90, 20, 40)).save(folder / f"{i}.png")
    bad = tmp_path / "tree" / "train" / "a" / "0.png"
    bad.write_bytes(b"not an image")
    path = tiny_pipeline(tmp_path)
    path.write_text(path.read_text()
                    .replace("data: {dataset: digits, params: {test_fraction: 0.2}}",
                             f"data: {{dataset: image_folder, params: {{root: {tmp_path / 'tree'}}}}}")
                    .replace("views: digits", "views: {name: image, params: {size: 8}}"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ssl-core: error:") and str(bad) in err and "Traceback" not in err
