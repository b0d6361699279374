"""``NAME=VALUE`` option values (``--checkpoint glsgn=runs/x.pt``, ``--weights``, ``--model-arg width=8``,
``--source-license videos=CC-BY-4.0``, a dataset's ``rain100h=/my/Rain100H``): split at the first ``=``,
with one error shape for every option that takes them.
"""
from __future__ import annotations

from collections.abc import Callable

from uhr4k.core.errors import InputError


def split_name_value(text: str) -> tuple[str, str] | None:
    """``"NAME=VALUE"`` -> ``(NAME, VALUE)``, split at the first ``=`` (the value may hold more); None
    when ``text`` has no ``=``. Either side may be empty: :func:`parse_name_value` says which are refused."""
    name, sep, value = str(text).partition("=")
    return (name, value) if sep else None


def _both_given(name: str, value: str) -> bool:
    return bool(name and value)


def parse_name_value(spec: str, option: str, form: str = "NAME=VALUE",
                     valid: Callable[[str, str], bool] = _both_given) -> tuple[str, str]:
    """One ``NAME=VALUE`` value of ``option`` -> ``(NAME, VALUE)``, as given (not stripped).

    Args:
        form: how the option's help writes the value (``NAME=PATH``, ``KEY=VALUE``), for the message.
        valid: ``(name, value) -> bool``, what a well-formed value holds beyond its ``=``; default: both
            sides non-empty.
    Raises:
        InputError: ``"--checkpoint must be NAME=PATH, got 'x'"``.
    """
    pair = split_name_value(spec)
    if pair is None or not valid(*pair):
        raise InputError(f"{option} must be {form}, got {spec!r}")
    return pair
