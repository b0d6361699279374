"""uhr4k: ultra-high-resolution (4K) image restoration research toolkit.

Subpackages: ``synth`` (synthetic degradations and build-syn), ``align`` (glass / no-glass
registration), ``data`` (pairs in every layout, presets, the torch Dataset, the crop cache, splits),
``benchmark`` (metrics, profiling, tiling, the bench runner and its report) and ``models`` (the
registry, GLSGN, baselines, losses, weights, training), over the base layer ``core`` and the dataset
contract ``layout`` (``layout.tables`` reads the CSV files back as DataFrames); ``app`` holds the entry
points below and ``commands`` the command line over them.

The notebook entry points (see :mod:`uhr4k.app`) load on first use, so ``import uhr4k`` stays light:
``uhr4k.build_syn``, ``uhr4k.align_pairs``, ``uhr4k.train``, ``uhr4k.bench``, ``uhr4k.create_model``,
``uhr4k.load_dataset``; ``uhr4k.reuse_freed_memory()`` gives a notebook the allocator setting the command
line uses (:mod:`uhr4k.core.allocator`).
"""
__version__ = "0.1.0"

# name -> (module, attribute) of the entry points, imported on first access (PEP 562)
_ENTRY_POINTS = {
    "build_syn": ("uhr4k.app.pipelines", "build_syn"),
    "align_pairs": ("uhr4k.app.pipelines", "align_pairs"),
    "train": ("uhr4k.app.training", "train"),
    "bench": ("uhr4k.app.bench", "bench"),
    "create_model": ("uhr4k.models.factory", "create_model"),
    "load_dataset": ("uhr4k.benchmark.runner", "load_dataset"),
    "reuse_freed_memory": ("uhr4k.core.allocator", "reuse_freed_memory"),
}


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        import importlib

        module, attribute = _ENTRY_POINTS[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'uhr4k' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_ENTRY_POINTS))
