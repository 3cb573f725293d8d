"""Dataset operations between converting and training: filter, merge, split, sample, remap, dedupe.

Each is a pure function on :class:`annokit.Dataset` (also a method of it: ``ds.filter(...)``) that works the same
for every format annokit reads -- read with :func:`annokit.convert.read_dataset`, operate on the typed model, write
any format with :func:`annokit.convert.write_dataset` -- and counts every object, image and category it drops or
changes in a :class:`~annokit.core.losses.LossRecorder`. ``annokit filter | merge | split | sample | remap |
dedupe`` are the same on the command line. See ``docs/ops.md``.

>>> import annokit
>>> from annokit.ops import filter_dataset, split_dataset
>>> ds = annokit.load("sample_data/scenes/gt.json")
>>> parts = split_dataset(filter_dataset(ds, min_area=100), {"train": 0.8, "val": 0.2}, seed=0).datasets
>>> [len(d) for d in parts.values()]
[39, 9]
"""

from annokit.ops._common import OpsError
from annokit.ops._images import default_image_root, pixel_hashes
from annokit.ops.dedupe import DedupeResult, dedupe_dataset
from annokit.ops.filter import filter_dataset, read_image_list
from annokit.ops.merge import IdMap, MergeResult, OnConflict, merge_datasets
from annokit.ops.remap import parse_map, remap_dataset
from annokit.ops.sample import SampleBy, image_uncertainty, sample_dataset
from annokit.ops.split import SplitResult, Stratify, parse_ratios, split_dataset, write_splits

__all__ = [
    "DedupeResult",
    "IdMap",
    "MergeResult",
    "OnConflict",
    "OpsError",
    "SampleBy",
    "SplitResult",
    "Stratify",
    "dedupe_dataset",
    "default_image_root",
    "filter_dataset",
    "image_uncertainty",
    "merge_datasets",
    "parse_map",
    "parse_ratios",
    "pixel_hashes",
    "read_image_list",
    "remap_dataset",
    "sample_dataset",
    "split_dataset",
    "write_splits",
]
