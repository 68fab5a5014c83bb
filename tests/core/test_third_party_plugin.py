"""examples/third_party_plugin installs as its own distribution and its objective runs in a pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_plugin"


def test_installed_plugin_is_found_and_runs(tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(EXAMPLE)], check=True)
    env = dict(os.environ, PYTHONPATH=str(site) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("SSL_CORE_DISABLE_PLUGIN_AUTOLOAD", None)
    command = [sys.executable, "-m", "ssl_core.cli"]
    listing = subprocess.run(command + ["plugins", "--json"], env=env, capture_output=True, text=True, check=True)
    barlow = next(c for c in json.loads(listing.stdout)["components"]["objective"] if c["name"] == "barlow_twins")
    assert barlow["plugin"] == "ssl-barlow:barlow"

    pipeline = tmp_path / "barlow.yaml"
    pipeline.write_text((EXAMPLE / "digits_barlow_twins.yaml").read_text())
    run = subprocess.run(command + ["run", str(pipeline), "train.epochs=1", "train.max_steps=3", "train.batch_size=32",
                                    "train.progress_bar=false", "evaluate=[knn]", f"output={tmp_path / 'run'}"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["pipeline"]["objective"]["name"] == "barlow_twins"
    assert results["evaluations"][0]["evaluator"] == "knn"

    env["SSL_CORE_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    off = subprocess.run(command + ["plugins", "--json"], env=env, capture_output=True, text=True, check=True)
    assert "barlow_twins" not in off.stdout
