"""ssl_image: built-in ssl-core plugin package."""
