"""The converters' shared tools: renaming the keys of a released state dict into this package's layout.

Pure functions of a ``{key: tensor}`` dict; tensors are never copied.
"""
from __future__ import annotations

import re

import torch

StateDict = dict[str, torch.Tensor]


def rename_keys(state: StateDict, rules: list[tuple[str, str]]) -> StateDict:
    """A converter's usual core: each key renamed by the first regex of ``rules`` that matches it whole
    (``re.fullmatch``; the replacement may use ``\\1``), unmatched keys kept; tensors are not copied.

    Raises:
        ValueError: two keys renamed to the same name (the rules are ambiguous for this file).
    """

    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]
    out: StateDict = {}
    for key, value in state.items():
        new = key
        for pattern, repl in compiled:
            if pattern.fullmatch(key):
                new = pattern.sub(repl, key, count=1)
                break
        if new in out:
            raise ValueError(f"keys {key!r} and another both become {new!r}")
        out[new] = value
    return out


def substitute_keys(state: StateDict, rules) -> StateDict:
    """Every key rewritten by each ``(pattern, repl)`` of ``rules`` in turn (``re.sub``: all matches, ``repl``
    a string or a function of the match, e.g. ``lambda m: f"levels.{int(m[1]) - 1}"``); tensors not copied.

    Raises:
        ValueError: two keys rewritten to the same name.
    """

    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]
    out: StateDict = {}
    for key, value in state.items():
        new = key
        for pattern, repl in compiled:
            new = pattern.sub(repl, new)
        if new in out:
            raise ValueError(f"keys {key!r} and another both become {new!r}")
        out[new] = value
    return out


def one_based(name: str):
    """A ``substitute_keys`` replacement: ``{name}.{k - 1}`` for a match whose group 1 is a 1-based index
    (releases number ``encoder_level1..3``; a ModuleList counts from 0)."""
    return lambda m: f"{name}.{int(m[1]) - 1}"


def same_layout(state: StateDict) -> StateDict:
    """The converter of a release whose state dict is already in this package's layout (same module names;
    the loader has stripped ``module.`` prefixes and unwrapped the file): a shallow copy, tensors shared."""
    return dict(state)
