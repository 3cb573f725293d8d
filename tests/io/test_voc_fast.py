"""The VOC reader's fast path (XML parsed a chunk of files at a time, leaf fields typed through a cache) against
its general path (one parser per file, every field through ``_elem_value``): the same Dataset, keys, counted
losses, warnings, errors and validator problems, on sample data, refdata and seeded random folders with odd
content."""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import annokit.io.voc as voc
from annokit.core.losses import LossRecorder
from annokit.errors import AnnokitError
from annokit.io._safe import parse_xml, parse_xml_batch
from annokit.io.coco import read_instances

HERE = Path(__file__).resolve().parents[2]


def _snapshot(ds: Any, keys: list[str]) -> tuple[Any, ...]:
    """Every value of a Dataset, in a form where ``==`` means the same values and types (``repr`` tells ``0`` from
    ``0.0``; ``tobytes`` tells ``-0.0`` from ``0.0``)."""
    im, a, c = ds.images, ds.annotations, ds.categories
    segs = None if a.segmentations is None else repr(a.segmentations)
    return (keys, im.ids.tobytes(), list(im.file_names), im.heights.tobytes(), im.widths.tobytes(), repr(im.extras),
            c.ids.tobytes(), list(c.names), a.image_ids.tobytes(), a.boxes.tobytes(), a.boxes.shape,
            a.labels.tobytes(), repr(a.extras), segs, a.ids.tobytes(), a.area.tobytes())


def _read(root: Path, fast: bool, **kw: Any) -> tuple[Any, ...]:
    old = voc._FAST_PATH
    voc._FAST_PATH = fast
    rec = LossRecorder()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                ds, keys = voc.read_voc_keyed(root, recorder=rec, **kw)
                out: Any = _snapshot(ds, keys)
            except AnnokitError as exc:
                out = ("error", type(exc).__name__, str(exc))
        problems = [repr(p) for p in voc.validate_voc(root, zero_based=kw.get("zero_based", False))]
    finally:
        voc._FAST_PATH = old
    return out, rec.report().to_json_dict(), [str(w.message) for w in caught], problems


def _same(root: Path, **kw: Any) -> tuple[Any, ...]:
    fast, general = _read(root, True, **kw), _read(root, False, **kw)
    assert fast == general
    return fast


# ------------------------------------------------------------------------------------------- seeded odd folders
_NAMES = ["cat", "dog", "tvmonitor", "café", "猫", "a b", "x&y", "person"]


def _num(rng: random.Random) -> str:
    return rng.choice([str(rng.randint(0, 600)), f"{rng.uniform(0, 600):.3f}", f" {rng.randint(1, 99)} ",
                       f"{rng.randint(1, 9)}e1", "1.5e2", f"{rng.randint(1, 500)}.0", "0"])


def _object(rng: random.Random) -> str:
    parts = [f"<name>{rng.choice(_NAMES).replace('&', '&amp;')}</name>"] if rng.random() > 0.02 else []
    for tag in ("pose", "truncated", "difficult", "occluded"):
        if rng.random() < 0.7:
            parts.append(f"<{tag}>{rng.choice(['0', '1', '2', 'Unspecified', ' 1 ', '', 'yes', '0.5'])}</{tag}>")
    if rng.random() < 0.2:
        parts.append(f"<difficult>{rng.randint(0, 1)}</difficult>")  # a repeated tag
    if rng.random() < 0.2:
        parts.append("<part><name>head</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax>"
                     "</bndbox></part>" * rng.randint(1, 2))
    if rng.random() < 0.1:
        parts.append("<actions><jumping>1</jumping><other>0</other></actions>")
    if rng.random() < 0.1:
        parts.append(f"<attributes><attribute><name>colour</name><value>{rng.choice(_NAMES)}</value></attribute>"
                     "</attributes>")
    x0, y0 = rng.randint(1, 300), rng.randint(1, 300)
    co = {"xmin": str(x0), "ymin": str(y0), "xmax": str(x0 + rng.randint(0, 200)),
          "ymax": str(y0 + rng.randint(0, 200))}
    if rng.random() < 0.3:
        co = {k: _num(rng) for k in co}
    order = list(co)
    if rng.random() < 0.1:
        rng.shuffle(order)
    if rng.random() < 0.02:
        order.pop()
    box = "".join(f"<{k}>{co[k]}</{k}>" for k in order)
    if rng.random() > 0.02:
        parts.insert(rng.randint(0, len(parts)), f"<bndbox>{box}</bndbox>")
    return f"<object>{''.join(parts)}</object>"


def _file(rng: random.Random, stem: str) -> bytes:
    head = [f"<filename>{stem}.jpg</filename>"] if rng.random() > 0.05 else []
    if rng.random() < 0.85:
        w, h = rng.choice([("500", "375"), ("640", "480"), ("12.5", "10"), ("0", "0")])
        head.append(f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>")
    if rng.random() < 0.5:
        head.insert(0, "<folder>VOC2007</folder>")
    if rng.random() < 0.3:
        head.append("<source><database>The VOC2007 Database</database><annotation>PASCAL VOC2007</annotation>"
                    "</source><segmented>0</segmented>")
    body = "".join(head + [_object(rng) for _ in range(rng.randint(0, 5))])
    sep = rng.choice(["", "\n", "\n  "])
    text = f"<annotation>{sep}{body}{sep}</annotation>"
    r = rng.random()
    if r < 0.05:
        text = text.replace("<annotation>", '<annotation verified="yes">', 1)  # an attribute: a counted loss
    elif r < 0.1:
        text = text.replace("</annotation>", "<!-- a comment --></annotation>")
    elif r < 0.13:
        text = text.replace("<folder>", "<folder><![CDATA[VOC]]>", 1)
    elif r < 0.15:
        text = text + "<junk/>"  # not well-formed: the error names this file
    elif r < 0.17:
        text = text.replace("</annotation>", "</annotation >")
    decl = rng.choice(["", '<?xml version="1.0"?>\n', '<?xml version="1.0" encoding="utf-8"?>', " \n"])
    data = (decl + text + rng.choice(["", "\n"])).encode("utf-8")
    if rng.random() < 0.03:
        data = ('<?xml version="1.0" encoding="ISO-8859-1"?>' + text.replace("café", "caf\u00e9")).encode(
            "latin-1", errors="replace")
    return data


def _random_folder(root: Path, seed: int, n: int) -> Path:
    rng = random.Random(seed)
    ann = root / "Annotations"
    ann.mkdir(parents=True)
    for i in range(n):
        (ann / f"{i:06d}.xml").write_bytes(_file(rng, f"{i:06d}"))
    if rng.random() < 0.5:
        main = root / "ImageSets" / "Main"
        main.mkdir(parents=True)
        (main / "trainval.txt").write_text("".join(f"{i:06d}\n" for i in range(0, n, 2)))
    return root


def _clean_folder(root: Path, seed: int, n: int) -> Path:
    """A folder whose every file is readable (the fast path then carries all of it): each file drawn until it
    reads alone."""
    rng = random.Random(seed)
    one = root.parent / "one"
    (one / "Annotations").mkdir(parents=True)
    (root / "Annotations").mkdir(parents=True)
    for i in range(n):
        while True:
            data = _file(rng, f"{i:06d}")
            (one / "Annotations" / "a.xml").write_bytes(data)
            try:
                voc.read_voc(one)
            except AnnokitError:
                continue
            (root / "Annotations" / f"{i:06d}.xml").write_bytes(data)
            break
    return root


@pytest.mark.parametrize("seed", range(8))
def test_random_odd_folders_read_the_same(tmp_path: Path, seed: int) -> None:
    root = _random_folder(tmp_path / "voc", seed, 20)
    _same(root)
    _same(root, zero_based=True)


@pytest.mark.parametrize("seed", range(3))
def test_random_readable_folders_read_the_same(tmp_path: Path, seed: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = _clean_folder(tmp_path / "voc", seed, 6)
    out = _same(root)
    assert out[0][0]  # read, not an error


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8, 20))
def test_random_odd_folders_read_the_same_many(tmp_path: Path, seed: int) -> None:
    _same(_random_folder(tmp_path / "voc", seed, 60))


def test_sample_data_written_as_voc_reads_the_same(tmp_path: Path) -> None:
    ds = read_instances(HERE / "sample_data" / "scenes" / "gt.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        voc.write_voc(ds, tmp_path / "voc")
    out = _same(tmp_path / "voc")
    assert len(out[0][0]) == len(ds.images)


def test_refdata_voc_folders_read_the_same(refdata: Any) -> None:
    base = refdata.path("formats", "datumaro")
    folders = sorted({p.parent.parent for p in base.rglob("Annotations/*.xml")})
    assert folders
    for root in folders:
        _same(root)


# ------------------------------------------------------------------------------------------- the batch parser
@pytest.mark.parametrize("texts", [
    [b"<annotation>", b"<annotation></annotation></annotation>"],  # one file's element inside another's
    [b"<annotation><![CDATA[</annotation>", b"]]></annotation><annotation></annotation>"],
    [b"<annotation><!-- ", b"--></annotation>"],
    [b"<annotation></annotation>junk", b"<annotation></annotation>"],
    [b"<annotation/>", b"<annotation></annotation>"],
    [b"\xef\xbb\xbf<annotation></annotation>", b"<annotation></annotation>"],
])
def test_batch_never_joins_what_files_split(texts: list[bytes]) -> None:
    """Files that are not one plain element each are left to the per-file parser (None), never read as a
    different split of the joined bytes."""
    got = parse_xml_batch(texts)
    for t, e in zip(texts, got):
        if e is not None:
            assert e.tag == parse_xml("x.xml", t).tag
            import xml.etree.ElementTree as ET

            assert ET.tostring(e) == ET.tostring(parse_xml("x.xml", t))
    assert got[0] is None


def test_batch_gives_the_per_file_elements() -> None:
    import xml.etree.ElementTree as ET

    rng = random.Random(5)
    blobs = [_file(rng, f"{i}") for i in range(300)]
    got = parse_xml_batch(blobs, chunk=64)
    assert sum(e is not None for e in got) > 50
    for b, e in zip(blobs, got):
        if e is not None:
            assert ET.tostring(e) == ET.tostring(parse_xml("x.xml", b))
    assert np.all([e is None for e in parse_xml_batch([b"<annotation><a></annotation>"] * 3)])
