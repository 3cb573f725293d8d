"""datumaro as a test-only oracle: import a folder in one of its formats and list each item's boxes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest


def datumaro_boxes(path: Path, fmt: str) -> dict[str, list[tuple[str, list[float], dict]]]:
    """``{item id: [(label name, [x, y, w, h], attributes), ...]}`` as datumaro imports ``path`` (skips without
    datumaro)."""
    pytest.importorskip("datumaro", reason="datumaro (a test-only oracle) is not installed")
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    logging.getLogger().setLevel(logging.ERROR)
    ds = Dataset.import_from(str(path), fmt)
    names = [c.name for c in ds.categories()[AnnotationType.label]]
    out: dict[str, list[tuple[str, list[float], dict]]] = {}
    for item in ds:
        boxes = [a for a in item.annotations if a.type.name in ("bbox", "rotated_bbox")]
        key = item.id if item.id not in out else f"{item.subset}/{item.id}"  # the same id in two subsets
        out[key] = [(names[a.label], [float(v) for v in a.get_bbox()], dict(a.attributes)) for a in boxes]
    return out


def datumaro_export(coco_json: Path, images: Path | None, out: Path, fmt: str, **kw: object) -> None:
    """datumaro converts a COCO instances file into ``fmt`` at ``out``."""
    pytest.importorskip("datumaro", reason="datumaro (a test-only oracle) is not installed")
    import shutil

    from datumaro.components.dataset import Dataset

    logging.getLogger().setLevel(logging.ERROR)
    src = out.parent / "dm_coco"
    (src / "annotations").mkdir(parents=True, exist_ok=True)
    shutil.copy(coco_json, src / "annotations" / "instances_default.json")
    if images is not None:
        shutil.copytree(images, src / "images" / "default", dirs_exist_ok=True)
    ds = Dataset.import_from(str(src), "coco_instances")
    ds.export(str(out), fmt, save_media=images is not None, **kw)
