"""ssl_encoders: built-in ssl-core plugin package."""
