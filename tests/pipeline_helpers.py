"""Small pipelines and fake plugin distributions for the core tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pytorch_lightning.callbacks import Callback

TINY_DIGITS = """\
name: tiny
seed: 3
data: {{dataset: digits, params: {{test_fraction: {test_fraction}}}}}
views: digits
encoder: {{name: small_cnn, params: {{width: 4}}}}
objective:
  name: simclr
  params: {{out_dim: 16, hidden_dim: 16}}
train:
  epochs: {epochs}
  batch_size: 64
  optimizer: {{name: adam, lr: 0.002}}
  schedule: {{name: warmup_cosine, warmup_epochs: 1}}
  checkpoint_every_n_steps: {every}
  progress_bar: false
output: {output}
"""


def tiny_pipeline(tmp_path: Path, epochs: int = 1, every: int = 0, output: str = "run", extra: str = "",
                  test_fraction: float = 0.2) -> Path:
    """A digits SimCLR pipeline with a 4-channel CNN (1437 training digits, or fewer with a larger test_fraction)."""
    path = tmp_path / f"{output}.yaml"
    path.write_text(TINY_DIGITS.format(epochs=epochs, every=every, output=tmp_path / output, test_fraction=test_fraction) + extra)
    return path


def fake_distribution(site: Path, dist: str, module: str, source: str, entry_name: str | None = None) -> None:
    """Write an installed distribution (dist-info with an ``ssl_core`` entry point) and its module into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ssl_core]\n{entry_name or module} = {module}\n")


class Crash(Callback):
    """Simulates a crash after ``step`` optimizer steps."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError("simulated crash")
