"""annokit.predict."""
