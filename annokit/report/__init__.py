"""annokit.report."""
