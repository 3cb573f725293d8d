"""Typed class hierarchy and image-level labels."""

from __future__ import annotations

import numpy as np
import pytest

from annokit import ValidationError
from annokit.core.hierarchy import ImageLabels, LabelHierarchy


def test_closures_with_two_parents() -> None:
    h = LabelHierarchy.from_links(["animal", "pet", "cat", "kitten"],
                                  [("cat", "animal"), ("cat", "pet"), ("kitten", "cat")])
    assert h.ancestors("kitten") == {"cat", "animal", "pet"}
    assert h.descendants("animal") == {"cat", "kitten"}
    assert h.descendants("kitten") == set()
    with pytest.raises(KeyError, match="'dog' is not in the hierarchy"):
        h.ancestors("dog")


def test_not_a_tree_is_refused_with_the_chain() -> None:
    with pytest.raises(ValidationError, match="not a tree: a > b > c > a makes 'a' its own ancestor"):
        LabelHierarchy.from_links(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    with pytest.raises(ValidationError, match="'a' is listed twice"):
        LabelHierarchy(names=["a", "a"], parents=np.zeros((0, 2), np.int64))
    with pytest.raises(ValidationError, match="outside"):
        LabelHierarchy(names=["a"], parents=[[0, 3]])
    with pytest.raises(ValidationError, match="unknown label 'z'"):
        LabelHierarchy.from_links(["a"], [("a", "z")])


def test_deep_chain_has_no_recursion_limit() -> None:
    names = [f"n{i}" for i in range(1500)]
    h = LabelHierarchy.from_links(names, [(names[i + 1], names[i]) for i in range(1499)])
    assert len(h.ancestors("n1499")) == 1499


def test_image_labels() -> None:
    lab = ImageLabels(image_ids=[1, 1, 2], labels=[3, 5, 3], positive=[True, False, True])
    assert len(lab) == 3 and repr(lab) == "ImageLabels(3 labels on 2 images, 2 positive)"
    with pytest.raises(ValidationError, match="positive: expected length 2"):
        ImageLabels(image_ids=[1, 2], labels=[3, 5], positive=[True])
