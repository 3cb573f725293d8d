"""Readers and writers, one module per format. Every convention shift (COCO xywh, VOC 1-based, palettes) lives here."""
