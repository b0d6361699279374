"""A small on-disk cache of what ``uhr4k models`` counts (parameters, MACs), so each is counted once.

An entry is keyed by the model's name, the uhr4k and torch versions and a fingerprint of the source of
the ``uhr4k.models`` package (every ``.py`` file's bytes): an edited architecture is counted afresh even
without a version bump. MACs are keyed by input size as well. The file is ``$UHR4K_CACHE/model_facts.json``
(default ``$XDG_CACHE_HOME/uhr4k``, else ``~/.cache/uhr4k``); a cache that cannot be read or written is
ignored (a read-only home only costs the recount).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path


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
    digest = hashlib.sha256(f"{uhr4k.__version__}|{torch_version}".encode())
    for path in sorted((Path(uhr4k.__file__).parent / "models").rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ModelFacts:
    """``get(key, compute)`` then ``save()``; values are JSON numbers or strings (a reason for "n/a")."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "model_facts.json"
        self.fingerprint = source_fingerprint()
        self.dirty = False
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            entries = {}
        # entries of other versions or sources are dropped: the file never grows past one tree's worth
        self.entries = entries.get(self.fingerprint, {}) if isinstance(entries, dict) else {}

    def get(self, key: str, compute: Callable[[], int | float | str]):
        if key not in self.entries:
            self.entries[key] = compute()
            self.dirty = True
        return self.entries[key]

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({self.fingerprint: self.entries}, indent=0, sort_keys=True))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass
