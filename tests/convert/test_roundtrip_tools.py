"""Round trips through the annotation-tool formats (LabelMe, CVAT, CreateML): COCO -> X -> COCO is exact with the
sidecar; without it, the loss report counts what the format could not hold."""

from __future__ import annotations

import warnings
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from annokit.convert import convert
from tests.convert._strategies import coco_dicts

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FORMATS = ["cvat", "createml", "labelme"]


def _roundtrip(tmp: Path, d: dict, fmt: str, **kw) -> tuple[dict, object]:
    src = tmp / "in.json"
    src.write_bytes(orjson.dumps(d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = convert(src, tmp / fmt, src_format="coco", dst_format=fmt, overwrite=True, **kw)
        convert(tmp / fmt, tmp / "back.json", src_format=fmt, dst_format="coco", overwrite=True, **kw)
    return orjson.loads((tmp / "back.json").read_bytes()), rep


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(d=coco_dicts())
def test_coco_roundtrip_is_exact_with_sidecar(tmp_path: Path, fmt: str, d: dict) -> None:
    back, rep = _roundtrip(tmp_path, d, fmt)
    assert back == d
    assert rep.lossless, rep.text()
