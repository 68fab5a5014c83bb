"""Errors that ssl-core raises for bad input, each saying what is wrong and how to fix it."""

from __future__ import annotations


class SslCoreError(Exception):
    """Base class of every error ssl-core raises on purpose."""


class ConfigError(SslCoreError, ValueError):
    """A pipeline file or override is invalid; the message names file, line and key."""


class PluginError(SslCoreError):
    """A plugin is broken: it failed to import, or registered a malformed or duplicate component."""


class UnknownComponentError(SslCoreError, KeyError):
    """A component name that no plugin registers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ParamError(SslCoreError, ValueError):
    """A component parameter is unknown, of the wrong type or out of range.

    Attributes:
        key: the parameter's name (relative to the component's params).
        choices: valid choices, nearest match first, when there are any.
    """

    def __init__(self, key: str, message: str, choices: list[str] | None = None):
        super().__init__(message)
        self.key = key
        self.message = message
        self.choices = choices or []


class ExportError(SslCoreError):
    """A trained backbone cannot be written in the format asked for; the message names the supported ones."""


class DeviceError(SslCoreError):
    """A device was asked for that this machine does not have."""


class TrainingStopped(SslCoreError):
    """Training ended before its last step (interrupted): the run can be continued with ``--resume``."""


class ConfigWarning(UserWarning):
    """A component's warning about one of its parameters; the pipeline prints it as one line naming the full key.

    A component warns with ``warnings.warn(ConfigWarning("anneal_epochs", "..."))``;
    building the pipeline reports ``pipeline.yaml:14: warning: objective.negatives.select.params.anneal_epochs: ...``.

    Attributes:
        key: the parameter's name (relative to the component's params).
        message: what is wrong and what to set instead.
    """

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message
