"""The on-disk dataset contract (docs/dataset.md): folder names and the manifest (``manifest``), the
scene-split policy (``scene_splits``), the dataset card (``card``) and the typed notebook view of the
tables a root holds (``tables``).

``from uhr4k import layout`` gives the manifest functions, the contract most callers need.
"""
from uhr4k.layout.manifest import (
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    QA_FOLDER,
    SPLITS,
    SUBSETS,
    Subset,
    format_manifest,
    make_row,
    pair_paths,
    read_manifest,
    subset,
    update_manifest,
    write_manifest,
)

__all__ = ["MANIFEST_COLUMNS", "MANIFEST_NAME", "QA_FOLDER", "SPLITS", "SUBSETS", "Subset", "format_manifest",
           "make_row", "pair_paths", "read_manifest", "subset", "update_manifest", "write_manifest"]
