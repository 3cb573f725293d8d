"""annokit.viz."""
