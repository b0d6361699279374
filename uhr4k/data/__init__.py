"""uhr4k.data: finding pairs in every layout (``sources``), named datasets with their protocol
(``presets``), the one rule that turns a dataset spec into its name, pairs and metric protocol
(``protocol``: :func:`resolve_dataset`), the torch ``Dataset`` with seeded crops (``dataset``), the crop
cache (``cache``), ``uhr4k split`` and leak reports (``splits``; the policy itself is
:mod:`uhr4k.layout.scene_splits`). Training and benchmarking both read data through
this package, and both take a dataset's protocol from :func:`resolve_dataset`.

``import uhr4k.data`` does not import torch: the torch ``Dataset`` and its helpers load on first use.
"""
import importlib

from uhr4k.data.presets import DATA_ENV, PRESETS, Preset, data_home, resolve_root
from uhr4k.data.protocol import ResolvedDataset, dataset_protocol, resolve_dataset
from uhr4k.data.sources import FOLDER_PAIRS, Pair, find_pairs, normalize_stem, read_pair

__all__ = ["DATA_ENV", "DEFAULT_CROP", "FOLDER_PAIRS", "PRESETS", "Pair", "PairedDataset", "Preset",
           "ResolvedDataset", "augment_pair", "data_home", "dataset_protocol", "find_pairs", "normalize_stem",
           "read_pair", "resolve_dataset", "resolve_root", "to_tensor"]

# names of the torch modules (name -> module), imported on first access (PEP 562)
_TORCH_NAMES = {"DEFAULT_CROP": "crops", "PairedDataset": "dataset", "augment_pair": "crops", "to_tensor": "crops"}


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        return getattr(importlib.import_module(f"uhr4k.data.{_TORCH_NAMES[name]}"), name)
    raise AttributeError(f"module 'uhr4k.data' has no attribute {name!r}")

