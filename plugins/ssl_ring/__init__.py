"""ssl_ring: built-in ssl-core plugin package."""
