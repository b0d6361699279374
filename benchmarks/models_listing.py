"""How long `uhr4k models` takes: the old way (build every model with real weights, count MACs at 4K)
against the new one (build on the meta device, parameters only; then the same from the cache).

Run: python benchmarks/models_listing.py   (prints seconds per way and the ratio; the import of torch
and of the model modules, common to both, is done once before timing)
"""
import contextlib
import os
import tempfile
import time

from uhr4k.benchmark.profiling import count_macs, count_parameters
from uhr4k.commands.model_facts import ModelFacts
from uhr4k.commands.models import model_rows
from uhr4k.models import create_model, list_models


def old_way(names):
    for name in names:
        model = create_model(name)
        count_parameters(model)
        with contextlib.suppress(Exception):   # as the old command: a model that cannot be counted is n/a
            count_macs(model, (1, 3, 2160, 3840))


def main():
    names = list_models()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["UHR4K_CACHE"] = tmp
        start = time.perf_counter()
        old_way(names)
        old = time.perf_counter() - start
        start = time.perf_counter()
        model_rows(names, None, ModelFacts())
        cold = time.perf_counter() - start
        start = time.perf_counter()
        model_rows(names, None, ModelFacts())
        warm = time.perf_counter() - start
    print(f"{len(names)} models: old (real build + 4K MACs) {old:.2f} s; meta build, parameters {cold:.2f} s "
          f"({old / cold:.0f}x); cached {warm:.3f} s ({old / warm:.0f}x); plus ~1.5 s of imports in a fresh process")


if __name__ == "__main__":
    main()
