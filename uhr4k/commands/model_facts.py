"""A small on-disk cache of what ``uhr4k models`` counts (parameters, MACs), so each is counted once.

An entry is keyed by the model's name, the uhr4k and torch versions and a fingerprint of the source of
the ``uhr4k.models`` package (every ``.py`` file's bytes): an edited architecture is counted afresh even
without a version bump. MACs are keyed by input size as well. The file is ``$UHR4K_CACHE/model_facts.json``
(default ``$XDG_CACHE_HOME/uhr4k``, else ``~/.cache/uhr4k``); a cache that cannot be read or written is
ignored (a read-only home only costs the recount).

The package ships the facts of its own tree beside this module (``model_facts.json``: the registry, every
model's parameters and MACs at 3840 x 2160), so the first listing after an install counts nothing and
imports no torch either. It is used only while its fingerprint is this tree's (an edited model, another
uhr4k or torch version: counted afresh); ``python -m uhr4k.commands.models`` writes it anew.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

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
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({self.fingerprint: self.entries}, indent=0, sort_keys=True) + "\n")
            os.replace(tmp, target)
            self.dirty = False
        except OSError:
            pass


def _entries_of(path: Path, fingerprint: str) -> dict:
    """The entries a facts file holds for ``fingerprint`` ({} when absent, unreadable or of another tree)."""
    try:
        stored = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    entries = stored.get(fingerprint, {}) if isinstance(stored, dict) else {}
    return entries if isinstance(entries, dict) else {}

