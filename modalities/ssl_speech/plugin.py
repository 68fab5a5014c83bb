"""The ssl_speech plugin: speech datasets, log-mel views and speech transfer suites."""

from __future__ import annotations

from ssl_core import hookimpl
from ssl_speech.audiomnist import AudioMNIST
from ssl_speech.fluent_speech_commands import FluentSpeechCommands
from ssl_speech.fsdd import FSDD
from ssl_speech.librispeech import LibriSpeech
from ssl_speech.librispeech_speakers import LibriSpeechSpeakers
from ssl_speech.speech_commands import SpeechCommands
from ssl_speech.speech_suite import speech_mini_suite, speech_suite
from ssl_speech.speech_views import LogMelViews


@hookimpl
def ssl_core_datasets():
    return {
        "librispeech": LibriSpeech,
        "librispeech_speakers": LibriSpeechSpeakers,
        "fsdd": FSDD,
        "audiomnist": AudioMNIST,
        "speech_commands": SpeechCommands,
        "fluent_speech_commands": FluentSpeechCommands,
    }


@hookimpl
def ssl_core_views():
    return {"log_mel": LogMelViews}


@hookimpl
def ssl_core_suites():
    return {"speech": speech_suite, "speech_mini": speech_mini_suite}
