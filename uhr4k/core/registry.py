"""One registry class for everything uhr4k looks up by name (models, losses): a dict of name -> entry
that refuses a second, different entry under one name and answers an unknown name with the known ones.

>>> LOSSES = Registry("loss")
>>> @LOSSES.register("l1")
... class L1Loss: ...
>>> LOSSES.get("l1") is L1Loss
True
"""
from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from uhr4k.core.errors import InputError

T = TypeVar("T")


class Registry(dict[str, Any]):
    """Named entries of one kind (``kind`` names them in errors: "unknown loss 'x'; known: ...").

    ``modules`` are the modules whose import registers the entries; :meth:`get_entry` and :meth:`names`
    import them first, so a lookup never depends on what the caller happened to import.
    """

    def __init__(self, kind: str, listed_as: str = "known", modules: tuple[str, ...] = ()):
        super().__init__()
        self.kind, self.listed_as, self.modules = kind, listed_as, modules
        self._loaded = False

    def load(self) -> None:
        """Import every module of ``modules`` (once)."""
        if not self._loaded:
            self._loaded = True
            for module in self.modules:
                importlib.import_module(module)

    def add(self, name: str, entry: Any, same: Callable[[Any, Any], bool] = lambda a, b: a is b) -> None:
        """Register ``entry`` as ``name``; registering the same entry again is a no-op (a module imported
        twice), a different one is a ``ValueError``."""
        if name in self and not same(self[name], entry):
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self[name] = entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: the decorated object is the entry."""
        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj
        return decorator

    def get_entry(self, name: str) -> Any:
        """The entry of ``name``.

        Raises:
            InputError: no entry of that name (the message lists the known ones).
        """
        self.load()
        if name not in self:
            raise InputError(f"unknown {self.kind} {name!r}; {self.listed_as}: {', '.join(sorted(self))}")
        return self[name]

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names matching a shell-style ``pattern`` (all if None)."""
        self.load()
        names = sorted(self)
        return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]
