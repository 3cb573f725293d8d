"""Every writable target's output on ``sample_data/scenes`` is byte-identical to the committed hashes, and so is
the COCO file each output reads back to: a speed change must not change a byte.

The hashes were made by the code before the conversion speed work (issue 10); regenerate them only for an intended
change of output: ``python -m tests.convert.test_golden_outputs`` (then review the diff of the JSON file).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from annokit.convert import FORMATS, convert

from ..conftest import SAMPLE

GOLDEN = Path(__file__).parent / "data" / "golden_outputs.json"
SRC = SAMPLE / "scenes" / "gt.json"
IMAGES = SAMPLE / "scenes" / "images"
# (target, write options): every format annokit writes, the folder targets also with --images
CASES: list[tuple[str, dict[str, object]]] = [
    *((f, {}) for f in ("coco", "voc", "yolo", "yolo-seg", "yolo-obb", "darknet", "dota", "kitti", "openimages",
                        "png", "cityscapes", "coco-panoptic", "labelme", "cvat", "createml", "class-csv",
                        "coco-results")),
    ("voc", {"images": IMAGES}), ("yolo", {"images": IMAGES}), ("yolo", {"precision": 6}),
    ("class-folders", {"images": IMAGES}),
]


def _case_id(target: str, opts: dict[str, object]) -> str:
    return target + "".join(f"+{k}" for k in sorted(opts))


def _hashes(root: Path) -> dict[str, str]:
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def outputs(target: str, opts: dict[str, object], work: Path) -> dict[str, object]:
    """The hashes of the written target and of the COCO file read back from it (or the error's text)."""
    suffix = {"coco": ".json", "coco-results": ".json", "class-csv": ".csv"}.get(target, "")
    dst = work / f"out{suffix}"
    try:
        convert(SRC, dst, src_format="coco", dst_format=target, write_options=opts)
    except Exception as exc:  # an error is an output too: its text must not change
        return {"error": f"{type(exc).__name__}: {exc}".replace(str(work), "WORK")}
    back = work / "back.json"
    try:
        convert(dst, back, src_format=target, dst_format="coco")
        back_hash: object = _hashes(back)["."]
    except Exception as exc:
        back_hash = {"error": f"{type(exc).__name__}: {exc}".replace(str(work), "WORK")}
    return {"files": _hashes(dst), "back": back_hash}


@pytest.mark.parametrize(("target", "opts"), CASES, ids=[_case_id(t, o) for t, o in CASES])
def test_output_bytes_unchanged(target: str, opts: dict[str, object], tmp_path: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert outputs(target, opts, tmp_path) == golden[_case_id(target, opts)]


def test_every_writable_format_is_covered() -> None:
    writable = {name for name, spec in FORMATS.items() if spec.writer is not None}
    assert writable <= {t for t, _ in CASES}


def _regenerate() -> None:
    import tempfile

    out = {}
    for target, opts in CASES:
        with tempfile.TemporaryDirectory() as d:
            out[_case_id(target, opts)] = outputs(target, opts, Path(d))
    GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    _regenerate()
