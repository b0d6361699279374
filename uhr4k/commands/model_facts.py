"""What ``uhr4k models`` and docs/models.md count of a model (parameters, MACs), and a small on-disk cache of
it, so that each is counted once.

An entry is keyed by the model's name, the uhr4k and torch versions and a fingerprint of the source of
the ``uhr4k.models`` package (every ``.py`` file's bytes): an edited architecture is counted afresh even
without a version bump. MACs are keyed by input size as well. The file is ``$UHR4K_CACHE/model_facts.json``
(default ``$XDG_CACHE_HOME/uhr4k``, else ``~/.cache/uhr4k``); a cache that cannot be read or written is
ignored (a read-only home only costs the recount).

The package ships the facts of its own tree beside this module (``model_facts.json``: the registry, every
model's parameters and MACs at 3840 x 2160), so the first listing after an install counts nothing and
imports no torch either. It is used only while its fingerprint is this tree's (an edited model, another
uhr4k or torch version: counted afresh); ``python -m uhr4k.commands.models`` writes it anew.

Counts are taken on models built on the ``meta`` device (:func:`build_on_meta`: no weights are allocated
or initialised), each model built only when something asked of it is not cached (:class:`CountedModel`).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from uhr4k.core.atomic import write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.records import digest_bytes

SHIPPED = Path(__file__).with_name("model_facts.json")
SHIPPED_MACS_SIZE = (3840, 2160)


def cache_dir() -> Path:
    if os.environ.get("UHR4K_CACHE"):
        return Path(os.environ["UHR4K_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "uhr4k"


def source_fingerprint() -> str:
    """sha256 (16 hex digits) over the uhr4k and torch versions and every file of ``uhr4k.models``.

    Neither torch nor the model modules are imported (torch's version comes from its installed metadata),
    so a listing answered from the cache costs no torch import.
    """
    from importlib import metadata

    import uhr4k

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "none"

    def chunks():
        yield f"{uhr4k.__version__}|{torch_version}".encode()
        for path in sorted((Path(uhr4k.__file__).parent / "models").rglob("*.py")):
            yield path.name.encode()
            yield path.read_bytes()
    return digest_bytes(chunks())


class ModelFacts:
    """``get(key, compute)`` then ``save()``; values are JSON numbers or strings (a reason for "n/a")."""

    def __init__(self, path: Path | None = None, shipped: bool = True):
        self.path = Path(path) if path is not None else cache_dir() / "model_facts.json"
        self.fingerprint = source_fingerprint()
        self.dirty = False
        # entries of other versions or sources are dropped: the file never grows past one tree's worth
        shipped_entries = _entries_of(SHIPPED, self.fingerprint) if shipped else {}
        self.entries = {**shipped_entries, **_entries_of(self.path, self.fingerprint)}

    def get(self, key: str, compute: Callable[[], int | float | str]):
        if key not in self.entries:
            self.entries[key] = compute()
            self.dirty = True
        return self.entries[key]

    def save(self, path: Path | None = None) -> None:
        """Write the entries to the user's cache (or ``path``) when something was counted."""
        if not self.dirty and path is None:
            return
        target = self.path if path is None else Path(path)
        try:
            write_text_atomic(target, json.dumps({self.fingerprint: self.entries}, indent=0, sort_keys=True) + "\n")
            self.dirty = False
        except (OSError, InputError):   # a read-only or full cache disk only costs the recount
            pass


def _entries_of(path: Path, fingerprint: str) -> dict:
    """The entries a facts file holds for ``fingerprint`` ({} when absent, unreadable or of another tree)."""
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    entries = stored.get(fingerprint, {}) if isinstance(stored, dict) else {}
    return entries if isinstance(entries, dict) else {}



def build_on_meta(name: str):
    """The registered model ``name`` built on the ``meta`` device (shapes only, no memory, no init cost);
    a model whose constructor needs real values (an ``.item()`` in ``__init__``) is built on the CPU."""
    import torch

    from uhr4k.models import create_model

    try:
        with torch.device("meta"):
            return create_model(name)
    except (RuntimeError, NotImplementedError):
        return create_model(name)


class CountedModel:
    """The counts of one registered model, each read from ``facts`` or counted and stored there; the model
    is built (on the meta device) on the first count that is not cached, so a cached one builds nothing."""

    def __init__(self, name: str, facts: ModelFacts):
        self.name, self.facts, self.model = name, facts, None

    def params(self) -> int:
        """Parameters, all of them (shared tensors once)."""
        return self.facts.get(f"{self.name}|params", lambda: self._parameters()[1])

    def trainable(self) -> int:
        """Parameters that train (``requires_grad``): fewer than :meth:`params` where some are frozen."""
        return self.facts.get(f"{self.name}|trainable", lambda: self._parameters()[0])

    def macs(self, size: tuple[int, int]) -> int | str:
        """Multiply-accumulates of one forward pass at ``size`` (width, height), or why they are n/a."""
        return self.facts.get(f"{self.name}|macs|{size[0]}x{size[1]}", lambda: self._macs(size))

    def _built(self):
        if self.model is None:
            self.model = build_on_meta(self.name)
        return self.model

    def _parameters(self) -> tuple[int, int]:
        from uhr4k.benchmark.profiling import count_parameters

        return count_parameters(self._built())

    def _macs(self, size: tuple[int, int]) -> int | str:
        from uhr4k.benchmark.profiling import count_macs

        try:
            return int(count_macs(self._built(), (1, 3, size[1], size[0])))
        except Exception as exc:   # noqa: BLE001 - a model the meta device cannot trace: say why, go on
            return type(exc).__name__
