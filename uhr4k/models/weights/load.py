"""Loading weights into a built model strictly: the release layout through its converter, one line naming
the first offending keys when a file does not fit.
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn

from uhr4k.core.errors import InputError
from uhr4k.models.registry import model_info
from uhr4k.models.weights.read import StateDict, Weights, read_weights


def refuse_other_model(weights: Weights, name: str) -> None:
    """Refuse a uhr4k file whose config names another model than ``name``.

    Raises:
        InputError: ``"<source>: holds model 'prenet', not 'glsgn'"``.
    """
    if weights.config is not None and weights.config.get("model") != name:
        raise InputError(f"holds model {weights.config.get('model')!r}, not {name!r}", weights.source)


def load_weights(model: nn.Module, name: str, weights: Weights) -> nn.Module:
    """Load ``weights`` into ``model`` (the registered configuration ``name``) strictly.

    uhr4k's own files and state dicts already in this package's layout load as they are; anything else
    goes through the registered converter of ``name`` (the release layout -> ours) first.

    Raises:
        InputError: naming the source: another model's uhr4k file, no converter for a release that needs
        one, a converter that does not recognise the file, or keys/shapes that do not fit.
    """
    source = weights.source
    refuse_other_model(weights, name)
    converter = model_info(name).converter
    ours = model.state_dict()
    state, converted = weights.state, False
    if weights.config is None and not (not weights.several_files and set(state) == set(ours)):
        if converter is not None:
            try:
                state = converter(state)
            except InputError as exc:
                raise InputError(exc.reason, exc.path or source) from None
            except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
                raise InputError(f"not a release of {name!r}: its converter failed ({type(exc).__name__}: "
                                 f"{str(exc)[:160]})", source) from None
            converted = True
        elif weights.several_files:
            raise InputError(f"a folder of {len(state)} weight files ({', '.join(sorted(state))}); {name!r} "
                             f"loads one file", source)
    if not isinstance(state, dict) or any(not isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"the converter of {name!r} did not return a state dict", source)
    strict_load(model, state, name, source, converted)
    return model


def load_pretrained(model: nn.Module, name: str, path: str | os.PathLike) -> nn.Module:
    """Load the weights at ``path`` (any format of :func:`read_weights`) into ``model``, the registered
    configuration ``name`` already built (its kwargs are the caller's; a uhr4k file of another
    configuration fails strictly). Keeps the model's train/eval mode.

    Raises:
        InputError: as :func:`read_weights` and :func:`load_weights`.
    """

    return load_weights(model, name, read_weights(path))


def strict_load(model: nn.Module, state: StateDict, name: str, source=None, converted: bool = False) -> None:
    """``model.load_state_dict(state, strict=True)`` whose error is one line naming the first offenders.

    Raises:
        InputError: missing or unexpected keys, or shapes that differ.
    """
    ours = model.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    shapes = [k for k in ours if k in state and tuple(state[k].shape) != tuple(ours[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first {unexpected[0]!r})")
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} of another shape (first {k!r}: file {tuple(state[k].shape)}, "
                         f"model {tuple(ours[k].shape)})")
        how = " after converting the release layout" if converted else ""
        raise InputError(f"does not fit model {name!r}{how}: " + ", ".join(parts) + " of "
                         f"{len(ours)} keys", source)
    model.load_state_dict(state, strict=True)

