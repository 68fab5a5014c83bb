"""ssl_speech: the built-in speech modality of ssl-core (a plugin like any other).

Datasets (``librispeech``, ``librispeech_speakers``, ``fsdd``, ``audiomnist``,
``speech_commands``, ``fluent_speech_commands``) read each corpus in its
official layout and split, decode every file once into an on-disk feature
cache (``feature_cache``) and yield ``(LogMelFrames, label)``; the ``log_mel``
views (``speech_views``) cut z-scored ``1 x 64 x 64`` log-mel crops from them,
masked for training. Suites ``speech`` (Table 6a of the CNCE paper, after
Tamkin et al. 2020) and ``speech_mini`` (the project's shared data) list the
transfer tasks. Registered by ``ssl_speech.plugin``.
"""
