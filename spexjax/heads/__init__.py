"""spexjax.heads (under construction)."""
