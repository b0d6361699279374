"""uhr4k: ultra-high-resolution (4K) image restoration research toolkit.

Subpackages: ``synth`` (synthetic degradations and build-syn), ``align`` (glass / no-glass
registration), ``benchmark`` (splits, loaders, metrics, profiling, the bench runner) and ``models``
(the registry, GLSGN, baselines, losses, training).
"""
__version__ = "0.1.0"
