"""spexjax.data (under construction)."""
