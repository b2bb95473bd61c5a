"""spexjax.report (under construction)."""
