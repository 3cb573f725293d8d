"""Metrics: pure functions over arrays plus accumulators (``update / merge / compute``) over sufficient statistics."""
