"""ssl_contrastive: built-in ssl-core plugin package."""
