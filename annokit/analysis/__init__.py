"""annokit.analysis."""
