"""Metrics: pure functions over arrays plus accumulators (``update / merge / compute``) over sufficient statistics."""

# Task metrics live in submodules (imported on use, so `import annokit.metrics` stays cheap):
#   annokit.metrics.classification, localization, semantic, objseg, imageseg, panoptic
