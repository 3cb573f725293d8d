"""``annokit eval`` runners for classification, localization, semantic and panoptic (registered on import)."""

from __future__ import annotations
