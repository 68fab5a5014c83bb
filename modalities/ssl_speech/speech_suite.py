"""Speech transfer suites: the six tasks of the CNCE paper's Table 6a, and a small one.

``speech`` lists LibriSpeech speaker identification, AudioMNIST digits,
Google Speech Commands, Fluent Speech Commands (action, object, location) and,
as cheap extras, FSDD digits and speakers. Every task uses the ``log_mel``
views (masking on the transfer training side only, centre crops on the test
side). A task whose data is absent raises ``FileNotFoundError`` when its
dataset is built; the transfer evaluator reports it as skipped.

``data_root`` convention. With ``data_root=None`` every dataset looks in its
own default root (``$SSL_CORE_DATA/<folder>`` or ``~/data/<folder>``). With
``data_root`` set, each dataset's ``root`` is ``<data_root>/<folder>``:
``librispeech``, ``audiomnist``, ``speech_commands``,
``fluent_speech_commands``, ``fsdd``. ``speech_mini`` uses the folder names
of the project's shared data instead (``fsdd``, ``speech-commands-mini``),
and its ``data_root`` defaults to ``../shared/data``, relative to the working
directory (the project's checkout sits beside ``shared``).

``speech_mini`` has no LibriSpeech speaker task: ``librispeech-mini`` holds
one utterance per speaker, so no per-speaker split has both a training and a
test utterance (it serves as pretraining data instead).
"""

from __future__ import annotations

from ssl_core.suite import SuiteTask

VIEWS = "log_mel"


def _root(data_root: str | None, folder: str, num_samples: int | None = None) -> dict:
    params = {} if data_root is None else {"root": f"{data_root.rstrip('/')}/{folder}"}
    if num_samples is not None:
        params["num_samples"] = num_samples
    return params


def _check_num_samples(num_samples: int | None) -> None:
    if num_samples is not None and (isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 64):
        raise ValueError(f"num_samples must be an integer >= 64 (samples per crop at 16 kHz) or null "
                         f"(each dataset's default, 150,526), got {num_samples!r}")


def speech_suite(data_root: str | None = None, num_samples: int | None = None) -> list[SuiteTask]:
    """The speech transfer tasks of Table 6a, plus FSDD digit and speaker.

    Args:
        data_root: folder holding every corpus under its default folder name;
            ``None``: each dataset's default root.
        num_samples: crop length of every task's spectrograms, in samples at
            16 kHz; ``None``: the paper's 150,526 (9.4 s). Set it to the
            pretraining's crop length when that differs (e.g. 16,000 for
            one-second clips), so that a frame spans the same time in both.
    """
    _check_num_samples(num_samples)
    libri = _root(data_root, "librispeech", num_samples)
    fluent = _root(data_root, "fluent_speech_commands", num_samples)
    fsdd = _root(data_root, "fsdd", num_samples)
    return [
        SuiteTask("librispeech speaker id", "librispeech_speakers", {**libri, "subset": "dev-clean"}, VIEWS),
        SuiteTask("audiomnist digit", "audiomnist", _root(data_root, "audiomnist", num_samples), VIEWS),
        SuiteTask("speech commands", "speech_commands", {**_root(data_root, "speech_commands", num_samples), "version": "v0.01"}, VIEWS),
        SuiteTask("fluent action", "fluent_speech_commands", {**fluent, "task": "action"}, VIEWS),
        SuiteTask("fluent object", "fluent_speech_commands", {**fluent, "task": "object"}, VIEWS),
        SuiteTask("fluent location", "fluent_speech_commands", {**fluent, "task": "location"}, VIEWS),
        SuiteTask("fsdd digit", "fsdd", {**fsdd, "task": "digit"}, VIEWS),
        SuiteTask("fsdd speaker", "fsdd", {**fsdd, "task": "speaker"}, VIEWS),
    ]


def speech_mini_suite(data_root: str = "../shared/data", num_samples: int | None = None) -> list[SuiteTask]:
    """Small speech transfer tasks on the project's shared data: FSDD digit and speaker, Speech Commands.

    Args:
        data_root: the shared data folder (``fsdd/`` and ``speech-commands-mini/``).
        num_samples: crop length of every task's spectrograms (as in :func:`speech_suite`).
    """
    _check_num_samples(num_samples)
    fsdd = _root(data_root, "fsdd", num_samples)
    return [
        SuiteTask("fsdd digit", "fsdd", {**fsdd, "task": "digit"}, VIEWS),
        SuiteTask("fsdd speaker", "fsdd", {**fsdd, "task": "speaker"}, VIEWS),
        SuiteTask("speech commands mini", "speech_commands", {**_root(data_root, "speech-commands-mini", num_samples), "version": "v0.01"}, VIEWS),
    ]
