"""The rules' plumbing: the Problems sink, schema locations, the compressed-RLE checker (against a straight port
of pycocotools' decoder), the XML guard (every codec Python has), and the modules' own examples."""

from __future__ import annotations

import codecs
import doctest
import encodings
import pkgutil
import random
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as cmask

import annokit.core.rle_check
import annokit.io.validation
from annokit.core.rle_check import rle_strings_ok
from annokit.errors import FormatError
from annokit.io._safe import MAX_XML_BYTES, parse_xml
from annokit.io.validation import Problem, Problems, format_loc, read_text


@pytest.mark.parametrize("module", [annokit.io.validation, annokit.core.rle_check])
def test_examples_in_docstrings(module) -> None:
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_problems_raise_when_reading_and_collect_when_validating() -> None:
    reader = Problems(collect=False)
    reader.warning("a.json", "x", "ignored by readers")
    with pytest.raises(FormatError, match=r"a.json: images\[0\]: bad"):
        reader.error("a.json", "images[0]", "bad")
    v = Problems(collect=True)
    with v.guard("a.json"):
        raise FormatError("a.json", "line 3", "broken")
    v.warning("a.json", "images[1]", "odd")
    assert [str(p) for p in v.items] == ["error: a.json: line 3: broken", "warning: a.json: images[1]: odd"]
    assert v.has_errors and v.items[0] == Problem("error", "a.json", "line 3", "broken")
    with pytest.raises(FormatError), reader.guard("a.json"):
        raise FormatError("a.json", None, "readers stop here")


def test_schema_locations() -> None:
    assert format_loc("annotations", (3, "bbox")) == "annotations[3].bbox"
    assert format_loc("", ("label_map", "x", "[key]")) == "label_map.x (the key)"
    from annokit.io.coco import ANNOTATION

    pr = Problems(collect=True)
    pr.check(ANNOTATION, {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                          "segmentation": [[0, 0, 1, 1, "x", 2]]}, "gt.json", "annotations[4]")
    pr.check(ANNOTATION, {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}, "gt.json", "annotations[5]")
    assert [str(p) for p in pr.items] == [
        "error: gt.json: annotations[4].segmentation[0]: coordinate is not a finite number: 'x'",
        "error: gt.json: annotations[5]: missing key 'id'"]


def test_read_text_names_the_byte(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"ok\nok\n\xc3(\n")
    with pytest.raises(FormatError, match=r"a.txt: line 3: not UTF-8 text \(byte 0xc3 at offset 6\)"):
        read_text(tmp_path / "a.txt")
    with pytest.raises(FormatError, match="cannot read"):
        read_text(tmp_path)


def _reference_decode_ok(s: bytes, total: int) -> bool:
    """pycocotools' ``rleFrString``, line for line, plus the checks its decoder needs."""
    cnts: list[int] = []
    p = 0
    while p < len(s):
        x = k = 0
        more = 1
        while more:
            if p >= len(s):
                return False
            c = s[p] - 48
            if c < 0 or c > 63 or k >= 12:
                return False
            x |= (c & 0x1F) << 5 * k
            more = c & 0x20
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << 5 * k
        if len(cnts) > 2:
            x += cnts[-2]
        cnts.append(x)
    return all(v >= 0 for v in cnts) and sum(cnts) == total


def test_rle_strings_checked_as_pycocotools_decodes_them() -> None:
    rng = np.random.default_rng(0)
    good, totals = [], []
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        good.append(cmask.encode(np.asfortranarray(m))["counts"])
        totals.append(h * w)
    assert rle_strings_ok(good, totals).all()
    assert not rle_strings_ok(good, [t + 1 for t in totals]).any()
    r = random.Random(1)
    cases, want = [], []
    for _ in range(2000):  # mutated strings: changed, inserted, deleted characters
        j = r.randrange(len(good))
        s = bytearray(good[j])
        op = r.randrange(3)
        if op == 0 and s:
            s[r.randrange(len(s))] = r.randrange(44, 116)
        elif op == 1:
            s.insert(r.randrange(len(s) + 1), r.randrange(48, 112))
        elif s:
            del s[r.randrange(len(s))]
        cases.append(bytes(s))
        want.append(totals[j])
    expected = [_reference_decode_ok(s, t) for s, t in zip(cases, want)]
    assert rle_strings_ok(cases, want).tolist() == expected  # all at once ...
    assert [bool(rle_strings_ok([s], [t])[0]) for s, t in zip(cases[:100], want[:100])] == expected[:100]  # ... or one
    assert 0 < sum(expected) < len(expected)


# ----------------------------------------------------------------------------------------------- XML guard
BOMB = '<!DOCTYPE a [<!ENTITY x "boom">]><annotation><filename>&x;</filename></annotation>'


def test_doctype_refused_in_every_encoding_python_has() -> None:
    """The guard sees ``<!DOCTYPE`` in every encoding expat accepts; in the others expat refuses the file."""
    names = sorted({m.name for m in pkgutil.iter_modules(encodings.__path__)})
    tried = 0
    for enc in names:
        try:
            codecs.lookup(enc)
            data = f'<?xml version="1.0" encoding="{enc}"?>'.encode("ascii") + BOMB.encode(enc)
        except (LookupError, UnicodeError, TypeError, ValueError):
            continue
        tried += 1
        with pytest.raises((FormatError, ValueError)):  # ValueError: expat's "multi-byte encodings"
            parse_xml("a.xml", data)
    assert tried > 50


@pytest.mark.parametrize("data", [
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><annotation>&e;</annotation>',
    b"<!doctype annotation><annotation/>",
    b'<?xml version="1.0"?>\n<!ENTITY e "x"><annotation/>',
    "<annotation/>".encode("utf-16"),
])
def test_entities_doctype_and_utf16_refused(data: bytes) -> None:
    with pytest.raises(FormatError, match="DOCTYPE|UTF-16"):
        parse_xml("a.xml", data)


def test_xml_size_limit(tmp_path: Path) -> None:
    p = tmp_path / "big.xml"
    with open(p, "wb") as fh:
        fh.truncate(MAX_XML_BYTES + 1)
    with pytest.raises(FormatError, match="over the"):
        parse_xml(p)
