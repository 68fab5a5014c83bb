"""ssl_nac: built-in ssl-core plugin package."""
