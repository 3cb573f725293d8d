"""Make the datumaro goldens of tests/io/test_cvat.py (run with an interpreter that has datumaro; not a test).

    python tests/io/oracles/cvat_datumaro.py tests/io/data/cvat tests/io/data/cvat_golden

Writes ``datumaro.json`` (what datumaro's ``cvat`` importer reads from the fixture: per image its boxes, polygons,
masks as pixel lists, attributes, z_order and group) and ``datumaro_export/`` (the fixture exported again by
datumaro's CVAT exporter: a CVAT file written by another tool).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
from datumaro.components.annotation import AnnotationType, Bbox, Mask, Points, Polygon, PolyLine
from datumaro.components.dataset import Dataset


def _ann(a, names):
    rec = {"label": names[a.label] if a.label is not None else None, "z_order": getattr(a, "z_order", None),
           "group": a.group,
           "attributes": {k: (v if isinstance(v, (bool, int, float, str)) else str(v))
                          for k, v in a.attributes.items()}}
    if isinstance(a, Bbox):
        rec.update(type="box", xywh=[a.x, a.y, a.w, a.h])
    elif isinstance(a, Polygon):
        rec.update(type="polygon", points=list(map(float, a.points)))
    elif isinstance(a, PolyLine):
        rec.update(type="polyline", points=list(map(float, a.points)))
    elif isinstance(a, Points):
        rec.update(type="points", points=list(map(float, a.points)))
    elif isinstance(a, Mask):
        ys, xs = np.nonzero(a.image)
        rec.update(type="mask", pixels=sorted([int(x), int(y)] for x, y in zip(xs, ys)))
    else:
        rec.update(type=str(a.type))
    return rec


def main(src: str, out: str) -> None:
    ds = Dataset.import_from(src, "cvat")
    names = [c.name for c in ds.categories()[AnnotationType.label]]
    items = {}
    for it in ds:
        items[f"{it.subset}/{it.id}"] = [_ann(a, names) for a in it.annotations]
    o = Path(out)
    o.mkdir(parents=True, exist_ok=True)
    (o / "datumaro.json").write_text(json.dumps({"labels": names, "items": items}, indent=1, sort_keys=True))
    shutil.rmtree(o / "datumaro_export", ignore_errors=True)
    ds.export(str(o / "datumaro_export"), "cvat", save_media=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
