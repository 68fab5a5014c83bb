"""ssl_la: Local Aggregation (Zhuang et al., 2019), a built-in ssl-core plugin package."""
