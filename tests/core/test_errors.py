"""The error classes: what callers may catch them as, and how they print."""

from __future__ import annotations

import pytest

from ssl_core.errors import ConfigError, ConfigWarning, ParamError, SslCoreError, UnknownComponentError


def test_bad_input_errors_are_value_errors_and_ssl_core_errors():
    """The CLI turns SslCoreError and ValueError into one line, exit 2: every bad-input error is caught there."""
    for error in (ConfigError("x"), ParamError("k", "m")):
        assert isinstance(error, SslCoreError) and isinstance(error, ValueError)
    assert isinstance(UnknownComponentError("x"), KeyError)


def test_unknown_component_prints_its_message_unquoted():
    error = UnknownComponentError("unknown objective 'nca'; valid choices: nac, ...")
    assert str(error) == "unknown objective 'nca'; valid choices: nac, ..."  # KeyError would add quotes
    with pytest.raises(KeyError):
        raise error


def test_param_error_and_config_warning_keep_their_key():
    error = ParamError("p", "p must lie in (0, 0.5), got 0.7", choices=["p", "out_dim"])
    assert (error.key, error.message, error.choices, str(error)) == ("p", "p must lie in (0, 0.5), got 0.7",
                                                                     ["p", "out_dim"], "p must lie in (0, 0.5), got 0.7")
    assert ParamError("p", "m").choices == []
    warning = ConfigWarning("anneal_epochs", "10 exceeds train.epochs (2)")
    assert isinstance(warning, UserWarning) and (warning.key, str(warning)) == ("anneal_epochs", "10 exceeds train.epochs (2)")
