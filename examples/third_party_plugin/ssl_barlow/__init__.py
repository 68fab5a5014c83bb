"""ssl-barlow: Barlow Twins as a third-party ssl-core plugin."""
