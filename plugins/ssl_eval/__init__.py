"""ssl_eval: built-in ssl-core plugin package."""
