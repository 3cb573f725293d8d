"""Helpers shared by every annokit package (private): atomic writes, safe file names, GC pausing, array lookups,
progress callbacks.

This package imports nothing from annokit but :mod:`annokit.errors`, so any layer may use it (the import-linter
contracts in ``pyproject.toml`` hold it so).
"""
