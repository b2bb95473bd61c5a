"""spexjax.baselines (under construction)."""
