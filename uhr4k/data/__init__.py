"""uhr4k.data: finding pairs in every layout (``sources``), named datasets with their protocol
(``presets``), the one rule that turns a dataset spec into its name, pairs and metric protocol
(``protocol``: :func:`resolve_dataset`), the torch ``Dataset`` with seeded crops (``dataset``), the crop
cache (``cache``) and the scene-split policy (``splits``). Training and benchmarking both read data through
this package, and both take a dataset's protocol from :func:`resolve_dataset`."""
from uhr4k.data.dataset import DEFAULT_CROP, PairedDataset, augment_pair, to_tensor
from uhr4k.data.presets import DATA_ENV, PRESETS, Preset, data_home, resolve
from uhr4k.data.protocol import ResolvedDataset, dataset_protocol, resolve_dataset, resolve_root
from uhr4k.data.sources import FOLDER_PAIRS, Pair, find_pairs, normalize_stem, read_pair

__all__ = ["DATA_ENV", "DEFAULT_CROP", "FOLDER_PAIRS", "PRESETS", "Pair", "PairedDataset", "Preset",
           "ResolvedDataset", "augment_pair", "data_home", "dataset_protocol", "find_pairs", "normalize_stem",
           "read_pair", "resolve", "resolve_dataset", "resolve_root", "to_tensor"]
