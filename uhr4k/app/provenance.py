"""What the dataset card records of a Python call: the call itself, as its "command".

The command line records ``uhr4k build-syn --frames videos --count 2167 ...`` (every option, defaults
included); a Python entry point records its call the same way, one that pastes back into Python::

    uhr4k.build_syn(frames='videos', count=8, size=(960, 540), test=50, val=20, seed=0, workers=1,
                    shard=(1, 1), subsets=('syn', 'rain'), reflection_model='zhang')

The rule is the command line's: every argument that decides the data, with its default when not given,
except those that are None, False or empty (the options a command line leaves out).
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from uhr4k.core.errors import InputError


def python_call(function: str, arguments: Mapping) -> str:
    """``function(key=value, ...)`` (``function`` as a user imports it: ``uhr4k.build_syn``) with
    ``arguments`` in their order, paths as strings, those that are None, False or empty left out."""
    words = [f"{key}={_literal(value)}" for key, value in arguments.items()
             if value is not None and value is not False and not (isinstance(value, (tuple, list, dict)) and
                                                                   not value)]
    return f"{function}({', '.join(words)})"


def _literal(value) -> str:
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    if isinstance(value, (tuple, list)):
        items = [_literal(v) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    return repr(value)


def source_list(sources) -> list[dict]:
    """The card's sources from Python: ``{"videos": "CC-BY-4.0"}`` or ``[{"name": "videos", "license":
    "CC-BY-4.0"}]`` -> the list form, in order.

    Raises:
        InputError: an entry without a name or a licence.
    """
    items = [{"name": k, "license": v} for k, v in sources.items()] if isinstance(sources, Mapping) else \
        [dict(s) for s in sources]
    for item in items:
        if set(item) != {"name", "license"} or not all(isinstance(v, str) and v.strip() for v in item.values()):
            raise InputError(f"sources: expected a name and a licence for each source, got {item!r}")
    return items
