"""``train.logger``: where training metrics go, through Lightning's loggers (CSV by default).

``csv`` writes ``logs/part<N>/metrics.csv`` (one folder per session, as
resumes append; ``training_curves.png`` is drawn from it), ``tensorboard``
``logs/tensorboard<N>/``, ``wandb`` a Weights & Biases run named after the
pipeline (files under the run folder), ``mlflow`` an MLflow run in the
experiment named after the pipeline, tracked in ``RUN_DIR/mlruns`` unless
``MLFLOW_TRACKING_URI`` says otherwise. This module imports Lightning only
when the loggers are built: the names are checked with the configuration.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

LOGGERS: dict[str, tuple[str, str]] = {
    "csv": ("", ""),
    "tensorboard": ("tensorboard", "pip install tensorboard"),
    "wandb": ("wandb", "pip install wandb"),
    "mlflow": ("mlflow", "pip install mlflow"),
}
"""Logger name -> (the module it needs, how to install it)."""


def logger_names(value: str | list[str]) -> list[str]:
    """``train.logger`` as a list of names (a single name or a list)."""
    return [value] if isinstance(value, str) else list(value)


def check_loggers(value) -> str | None:
    """``None`` if every logger in ``value`` is known and installed, else what is wrong and how to fix it."""
    if not isinstance(value, (str, list)) or not all(isinstance(v, str) for v in logger_names(value)):
        return f"must be a logger name or a list of them ({', '.join(LOGGERS)}), got {value!r:.60}"
    names = logger_names(value)
    for name in names:
        if name not in LOGGERS:
            return f"unknown logger '{name}'; valid choices: {', '.join(LOGGERS)}"
        module, install = LOGGERS[name]
        if module and importlib.util.find_spec(module) is None:
            return (f"the {name} logger needs the package '{module}', which is not installed: {install} "
                    f"(or remove '{name}' from train.logger)")
    if len(set(names)) != len(names):
        return f"lists a logger twice: {names}"
    return None


def build_loggers(value, run_dir: Path, part: int, run_name: str) -> list:
    """Lightning loggers for ``train.logger``; ``part`` numbers this training session (0, then 1 after a resume ...)."""
    loggers = []
    for name in logger_names(value):
        if name == "csv":
            from pytorch_lightning.loggers import CSVLogger

            loggers.append(CSVLogger(str(run_dir), name="logs", version=f"part{part}"))
        elif name == "tensorboard":
            from pytorch_lightning.loggers import TensorBoardLogger

            loggers.append(TensorBoardLogger(str(run_dir), name="logs", version=f"tensorboard{part}"))
        elif name == "wandb":
            from pytorch_lightning.loggers import WandbLogger

            loggers.append(WandbLogger(name=run_name, project="ssl-core", save_dir=str(run_dir)))
        elif name == "mlflow":
            from pytorch_lightning.loggers import MLFlowLogger

            uri = os.environ.get("MLFLOW_TRACKING_URI") or (Path(run_dir).resolve() / "mlruns").as_uri()
            loggers.append(MLFlowLogger(experiment_name=run_name, run_name=f"{run_name} part{part}", tracking_uri=uri))
    return loggers
