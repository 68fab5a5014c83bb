"""ssl_speech: built-in ssl-core plugin package."""
