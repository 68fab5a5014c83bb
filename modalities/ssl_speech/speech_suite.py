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


def _root(data_root: str | None, folder: str) -> dict:
    return {} if data_root is None else {"root": f"{data_root.rstrip('/')}/{folder}"}


def speech_suite(data_root: str | None = None) -> list[SuiteTask]:
    """The speech transfer tasks of Table 6a, plus FSDD digit and speaker.

    Args:
        data_root: folder holding every corpus under its default folder name;
            ``None``: each dataset's default root.
    """
    libri = _root(data_root, "librispeech")
    fluent = _root(data_root, "fluent_speech_commands")
    fsdd = _root(data_root, "fsdd")
    return [
        SuiteTask("librispeech speaker id", "librispeech_speakers", {**libri, "subset": "dev-clean"}, VIEWS),
        SuiteTask("audiomnist digit", "audiomnist", _root(data_root, "audiomnist"), VIEWS),
        SuiteTask("speech commands", "speech_commands", {**_root(data_root, "speech_commands"), "version": "v0.01"}, VIEWS),
        SuiteTask("fluent action", "fluent_speech_commands", {**fluent, "task": "action"}, VIEWS),
        SuiteTask("fluent object", "fluent_speech_commands", {**fluent, "task": "object"}, VIEWS),
        SuiteTask("fluent location", "fluent_speech_commands", {**fluent, "task": "location"}, VIEWS),
        SuiteTask("fsdd digit", "fsdd", {**fsdd, "task": "digit"}, VIEWS),
        SuiteTask("fsdd speaker", "fsdd", {**fsdd, "task": "speaker"}, VIEWS),
    ]


def speech_mini_suite(data_root: str = "../shared/data") -> list[SuiteTask]:
    """Small speech transfer tasks on the project's shared data: FSDD digit and speaker, Speech Commands.

    Args:
        data_root: the shared data folder (``fsdd/`` and ``speech-commands-mini/``).
    """
    fsdd = _root(data_root, "fsdd")
    return [
        SuiteTask("fsdd digit", "fsdd", {**fsdd, "task": "digit"}, VIEWS),
        SuiteTask("fsdd speaker", "fsdd", {**fsdd, "task": "speaker"}, VIEWS),
        SuiteTask("speech commands mini", "speech_commands", {**_root(data_root, "speech-commands-mini"), "version": "v0.01"}, VIEWS),
    ]
