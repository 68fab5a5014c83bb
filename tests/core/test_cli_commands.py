"""The CLI around run: --version, validate, eval with overrides, compare's differences, plugins --json, warnings."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ssl_core
from ssl_core.cli import main
from ssl_core.seeded_rng import seed_everything

from pipeline_helpers import tiny_pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"ssl-core {ssl_core.__version__}"


def test_validate_checks_everything_and_trains_nothing(tmp_path, capsys):
    path = tiny_pipeline(tmp_path, extra="evaluate: [{name: knn, params: {k: 5}}]\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "is valid: run 'tiny'" in out and "1438 training items, 22 steps per epoch, 1 evaluator(s) on cpu" in out
    assert not (tmp_path / "run").exists()  # nothing written, nothing trained
    assert main(["validate", str(path), "train.epoch=3"]) == 2
    assert "unknown key 'train.epoch'" in capsys.readouterr().err
    assert main(["validate", str(path), "train.batch_size=5000"]) == 2  # a check made only when building
    assert "larger than the 1438 training examples" in capsys.readouterr().err
    assert main(["validate", str(path), "evaluate=[{name: knn, params: {k: 0}}]"]) == 2  # the evaluator is built
    assert "k must be >= 1" in capsys.readouterr().err
    assert main(["validate", str(path), "--resume"]) == 2
    assert "--resume: no checkpoint" in capsys.readouterr().err
    assert main(["validate", str(path), "eval_options.device=cuda:7"]) == 2 or torch.cuda.device_count() > 7
    capsys.readouterr()


def test_validate_and_plugins_import_no_lightning():
    code = ("import sys; from ssl_core.cli import main; main(['plugins']); "
            "main(['run', sys.argv[1], 'train.epoch=1']); "
            "print('LOADED', [m for m in ('pytorch_lightning', 'lightning_fabric', 'lightly', 'torchvision') "
            "if m in sys.modules])")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins"), str(ROOT / "modalities")])}
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "examples/pipelines/nac_smallcnn32_1xb128-coslr-12e_digits.yaml")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert "unknown key 'train.epoch'" in out.stderr
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


def test_seeding_matches_lightning():
    import pytorch_lightning as pl

    draws = []
    for seed_fn in (lambda: pl.seed_everything(7, workers=True, verbose=False), lambda: seed_everything(7)):
        os.environ.pop("PL_GLOBAL_SEED", None), os.environ.pop("PL_SEED_WORKERS", None)
        seed_fn()
        draws.append((random.random(), float(np.random.rand()), float(torch.rand(1)),
                      os.environ["PL_GLOBAL_SEED"], os.environ["PL_SEED_WORKERS"]))
    assert draws[0] == draws[1]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    extra = "evaluate: [{name: knn, params: {k: 5}}]\n"
    runs = []
    for width in (4, 8):
        path = tiny_pipeline(root, output=f"w{width}", extra=extra)
        assert main(["run", str(path), "train.max_steps=2", f"encoder.params.width={width}"]) == 0
        runs.append(root / f"w{width}")
    return runs


def test_eval_with_overrides_writes_a_named_evaluation(two_runs, capsys):
    run = two_runs[0]
    before = (run / "results.json").read_text()
    assert main(["eval", str(run), "evaluate=[{name: knn, params: {k: 3}}]"]) == 0
    named = run / "evaluations" / "evaluate-knn-k-3" / "results.json"
    results = json.loads(named.read_text())
    assert results["evaluations"][0]["protocol"]["k"] == 3 and results["evaluation"] == "evaluate-knn-k-3"
    assert (run / "results.json").read_text() == before  # the run's own results are untouched
    capsys.readouterr()
    assert main(["eval", str(run), "evaluate=[{name: knn, params: {k: 3}}]"]) == 0
    assert f"replaces {named} (knn)" in capsys.readouterr().out  # said, not silent
    assert main(["eval", str(run), "--name", "k1", "evaluate=[{name: knn, params: {k: 1}}]"]) == 0
    assert json.loads((run / "evaluations/k1/results.json").read_text())["evaluations"][0]["protocol"]["k"] == 1
    assert main(["eval", str(run), "train.epochs=9"]) == 2
    assert "overrides of evaluate and eval_options.* only" in capsys.readouterr().err
    assert main(["eval", str(run)]) == 0
    assert f"replaces {run / 'results.json'} (knn)" in capsys.readouterr().out


def test_results_record_the_component_distributions(two_runs):
    results = json.loads((two_runs[0] / "results.json").read_text())
    by = {(c["kind"], c["name"]): c for c in results["components"]}
    assert set(by) == {("dataset", "digits"), ("views", "digits"), ("encoder", "small_cnn"), ("objective", "simclr"),
                       ("sampler", "in_batch"), ("evaluator", "knn")}
    assert by[("objective", "simclr")]["module"] == "ssl_contrastive.simclr"
    assert by[("objective", "simclr")]["plugin"] == "ssl_contrastive.plugin"


def test_distribution_of_a_third_party_module():
    from ssl_core.provenance import distribution_of

    import pluggy

    assert distribution_of("pluggy.manager") == ("pluggy", pluggy.__version__)
    assert distribution_of("no_such_module_anywhere") == (None, None)


def test_compare_shows_the_settings_that_differ_beside_the_runs(two_runs, capsys):
    assert main(["compare", *map(str, two_runs)]) == 0
    out_dir = two_runs[0].parent / "comparison"
    markdown = (out_dir / "comparison.md").read_text()
    assert "| run | method | encoder | epochs | data | seed | encoder.params.width |" in markdown
    assert "| w4 | simclr | small_cnn | 1 | digits | 3 | 4 |" in markdown
    assert "| w8 | simclr | small_cnn | 1 | digits | 3 | 8 |" in markdown
    assert "setting,encoder.params.width,,,4,8" in (out_dir / "comparison.csv").read_text()
    assert f"written: {out_dir}/comparison.md" in capsys.readouterr().out
    import matplotlib.image

    height, width = matplotlib.image.imread(out_dir / "comparison.png").shape[:2]
    assert width <= 1700 and height >= 300  # one legible panel per metric, not a long strip


def test_plugins_json_values_docs_and_settings(capsys):
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    queue = next(c for c in listing["components"]["sampler"] if c["name"] == "queue")
    assert {"name": "size", "type": "int", "default": 65536, "required": False} .items() <= queue["params"][0].items()
    probe = next(c for c in listing["components"]["evaluator"] if c["name"] == "linear_probe")
    lrs = next(p for p in probe["params"] if p["name"] == "lrs")
    assert lrs["default"] == [0.01, 0.1, 1.0, 10.0] and lrs["doc"] == "learning rates searched."
    augment_views = next(p for p in probe["params"] if p["name"] == "augment_views")
    assert augment_views["default"] is None
    settings = {s["key"]: s for s in listing["settings"]}
    assert settings["train.optimizer.lr"]["default"] == 0.03
    assert settings["train.schedule.name"]["type"] == "'constant' | 'warmup_cosine' | 'step'"
    assert settings["eval_options.device"]["type"] == "str | null" and settings["name"]["required"]


def test_a_component_warning_names_the_full_key_on_one_line(tmp_path, capsys):
    extra = "  negatives: {source: {name: queue, params: {size: 4096}}, select: {name: ring, params: {anneal_epochs: 50}}}\n"
    text = tiny_pipeline(tmp_path).read_text().replace("objective:\n  name: simclr\n  params: {out_dim: 16, hidden_dim: 16}\n",
                                                     "objective:\n  name: moco\n  params: {out_dim: 16, hidden_dim: 16}\n" + extra)
    path = tmp_path / "moco.yaml"
    path.write_text(text)
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert f"ssl-core: warning: {path}:9: objective.negatives.select.params.anneal_epochs: 50 exceeds train.epochs " \
           f"(1): u will not anneal down to 10.0 before training ends; set it <= 1" in err
    assert any(line.startswith(f"ssl-core: warning: {path}:9: objective.negatives.source.params.size: the queue "
                               f"(4096 keys) is larger than the dataset (1438 examples)") for line in err)
    assert not any("UserWarning" in line for line in err)
