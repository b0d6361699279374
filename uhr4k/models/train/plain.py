"""Typed plain data: frozen dataclasses that recipe files, checkpoints and step records hold as plain dicts.

:class:`PlainData` gives a dataclass ``from_dict`` / ``to_dict`` (lists there, tuples here) and checks
every field against its annotation whenever an instance is made, as the command-line flag of the field
would: ``int`` takes a whole number only (not ``1.5``, not ``true``), ``float`` any finite number (or the
text YAML 1.1 reads ``1e-4`` as: ``yaml.safe_load`` wants ``1.0e-4`` for a float), ``bool`` true or
false, ``str`` text (or a path), ``X | None`` also null, ``tuple[X, ...]`` a list, ``tuple[X, Y]`` a list
of two, ``dict`` a mapping with text keys, a PlainData class a mapping of its fields. A field's
``metadata`` adds a bound or a choice (:func:`at_least`, :func:`above`, :func:`from_to`, :func:`within`,
:func:`one_of`, :func:`matching`), checked on the value or on each item of a list.

A refused value raises :class:`FieldError` naming the field: dotted inside a part (``schedule.gamma``),
the item counted from 1 inside a list of parts (``progressive[2].crop``).
"""
from __future__ import annotations

import functools
import math
import numbers
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields


class FieldError(ValueError):
    """A refused value: ``key`` names the field, ``problem`` says why (``"must be a whole number, got 1.5"``)."""

    def __init__(self, key: str, problem: str):
        self.key, self.problem = key, problem
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class Check:
    """A condition on a field's value (each item of a list): ``test(value)`` must hold. ``text`` says it
    after the value's description (``">= 1"``: "a whole number >= 1"), or alone when ``phrase``."""

    test: typing.Callable[[object], bool]
    text: str
    phrase: bool = False

    def problem(self, hint) -> str:
        return self.text if self.phrase else f"{describe(_without_none(hint))} {self.text}"


def at_least(low) -> dict:
    return {"check": Check(lambda v: v >= low, f">= {low}")}


def above(low) -> dict:
    return {"check": Check(lambda v: v > low, f"> {low}")}


def from_to(low, high) -> dict:
    """From ``low`` (included) to ``high`` (excluded)."""
    return {"check": Check(lambda v: low <= v < high, f"in [{low}, {high})")}


def within(low, high) -> dict:
    """Strictly between ``low`` and ``high``."""
    return {"check": Check(lambda v: low < v < high, f"in ({low}, {high})")}


def one_of(*choices: str) -> dict:
    return {"check": Check(lambda v: v in choices, f"one of {', '.join(choices)}", phrase=True)}


def matching(pattern: str, text: str) -> dict:
    """Text that ``pattern`` matches in full; ``text`` says what that is (a whole phrase)."""
    return {"check": Check(lambda v: re.fullmatch(pattern, v) is not None, text, phrase=True)}


class PlainData:
    """Checked fields, ``from_dict`` / ``to_dict`` for a frozen dataclass kept as plain data. ``kind`` names
    the options in errors (``unknown schedule option``)."""

    kind = "option"

    def __post_init__(self):
        hints = _hints(type(self))
        for f in fields(self):
            value = coerce(getattr(self, f.name), hints[f.name], f.name)
            check = f.metadata.get("check")
            if check is not None:
                for item in value if isinstance(value, tuple) else (value,):
                    if item is not None and not check.test(item):
                        raise FieldError(f.name, f"must be {check.problem(hints[f.name])}, got "
                                                 f"{_shown(getattr(self, f.name))}")
            object.__setattr__(self, f.name, value)

    @classmethod
    def from_dict(cls, spec: Mapping | None):
        """An instance from a mapping of its fields (missing ones take their defaults); FieldError for an
        unknown key or a refused value, ValueError for values that do not go together."""
        spec = dict(spec or {})
        known = [f.name for f in fields(cls)]
        unknown = [k for k in spec if k not in known]
        if unknown:
            raise FieldError(str(unknown[0]), f"unknown {cls.kind} option (known: {', '.join(known)})")
        for f in fields(cls):
            if f.name not in spec and f.default is MISSING and f.default_factory is MISSING:
                raise FieldError(f.name, f"missing (a {cls.kind} is {{{', '.join(known)}}})")
        return cls(**spec)

    def to_dict(self) -> dict:
        """Every field, as plain data (lists, dicts, numbers, text, None: a tuple inside a mapping field too,
        as JSON would write it)."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def plain(value):
    """``value`` as plain data: parts as their ``to_dict``, tuples as lists, recursively."""
    if isinstance(value, PlainData):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _shown(value) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


def coerce(value, hint, key: str):
    """``value`` in the form ``hint`` declares (a list as a tuple, an int as a float, a mapping as its part),
    or FieldError naming ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(value, args, hint, key)
    if origin is tuple:
        return _coerce_tuple(value, args, hint, key)
    if isinstance(hint, type) and issubclass(hint, PlainData):
        return _coerce_part(value, hint, key)
    scalar = _SCALARS.get(origin or hint)
    if scalar is None:                       # pragma: no cover - a field type this module does not know
        raise TypeError(f"{key}: no check for values of type {hint}")
    converted = scalar(value)
    if converted is _REFUSED:
        raise FieldError(key, f"must be {describe(hint)}, got {_shown(value)}")
    return converted


def _coerce_union(value, args, hint, key: str):
    if value is None and type(None) in args:
        return None
    for option in (a for a in args if a is not type(None)):
        try:
            return coerce(value, option, key)
        except FieldError as exc:
            if exc.key != key:              # a part's own field (schedule.gamma, progressive[2].crop)
                raise
    raise FieldError(key, f"must be {describe(hint)}, got {_shown(value)}")


def _coerce_tuple(value, args, hint, key: str):
    if not isinstance(value, (list, tuple)):
        raise FieldError(key, f"must be {describe(hint)}, got {_shown(value)}")
    if len(args) == 2 and args[1] is Ellipsis:
        item_hints = [args[0]] * len(value)
    elif len(value) != len(args):
        raise FieldError(key, f"must be {describe(hint)}, got {_shown(value)}")
    else:
        item_hints = list(args)
    items = []
    for i, (item, item_hint) in enumerate(zip(value, item_hints, strict=True)):
        if isinstance(item_hint, type) and issubclass(item_hint, PlainData):
            items.append(coerce(item, item_hint, f"{key}[{i + 1}]"))   # a part's error names its field
            continue
        try:
            items.append(coerce(item, item_hint, key))
        except FieldError:
            raise FieldError(key, f"must be {describe(hint)}, got {_shown(value)}") from None
    return tuple(items)


def _coerce_part(value, cls, key: str):
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise FieldError(key, f"must be {describe(cls)}, got {_shown(value)}")
    try:
        return cls.from_dict(value)
    except FieldError as exc:
        raise FieldError(f"{key}.{exc.key}", exc.problem) from None
    except ValueError as exc:               # values that do not go together (the part's own checks)
        raise FieldError(key, str(exc)) from None


_REFUSED = object()


def _as_int(value):
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else _REFUSED


def _as_float(value):
    if isinstance(value, str):              # YAML 1.1 reads 1e-4 (no dot) as text
        try:
            value = float(value)
        except ValueError:
            return _REFUSED
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return _REFUSED
    return float(value)


def _as_str(value):
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value if isinstance(value, str) else _REFUSED


def _as_bool(value):
    return value if isinstance(value, bool) else _REFUSED


def _as_dict(value):
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        return _REFUSED
    return {k: _yaml_number(v) for k, v in value.items()}


def _yaml_number(value):
    """A model's or loss's option as the flag would have typed it: YAML 1.1 reads ``1e-2`` (no dot) as
    text, which no constructor takes for a number."""
    if isinstance(value, str) and _EXPONENT.fullmatch(value):
        return float(value)
    return value


_EXPONENT = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+")


_SCALARS = {int: _as_int, float: _as_float, str: _as_str, bool: _as_bool, dict: _as_dict}


def describe(hint) -> str:
    """What a value of ``hint`` looks like, for errors: ``"a whole number or null"``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        if len(set(args)) == 1:
            return f"a list of {len(args)} {_plural(args[0])}"
        return f"a list of {len(args)} values"
    if isinstance(hint, type) and issubclass(hint, PlainData):
        return f"a mapping of {hint.kind} options"
    return {int: "a whole number", float: "a number", str: "text", bool: "true or false",
            dict: "a mapping"}.get(origin or hint, str(hint))


def _without_none(hint):
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _plural(hint) -> str:
    if isinstance(hint, type) and issubclass(hint, PlainData):
        return f"{hint.kind}s"
    return {int: "whole numbers", float: "numbers", str: "texts"}.get(hint, describe(hint))
