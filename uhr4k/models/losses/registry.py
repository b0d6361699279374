"""Every training loss by name, one registry: ``build_loss(name, **options)`` -> an ``nn.Module`` with
``forward(outputs, target) -> (total: Tensor, parts: dict[str, float])``; a loss that also needs the
degraded input (GLSGN's conditional discriminator) takes it as ``forward(outputs, target, inputs=x)``.
Trainers call :func:`loss_value` / :func:`discriminator_value`, which pass ``inputs`` only to the losses
whose signature has it. The loss modules register their classes with :func:`register_losses` when imported.
"""
from __future__ import annotations

import inspect

import torch
import torch.nn as nn

from uhr4k.core.registry import Registry

# Modules of uhr4k.models.losses that register losses when imported.
LOSS_MODULES = ("glsgn", "baselines", "reflection")
LOSSES = Registry("loss", modules=tuple(f"uhr4k.models.losses.{m}" for m in LOSS_MODULES))


def register_losses(table: dict[str, type[nn.Module]]) -> None:
    """Register every ``name: loss class`` of ``table``."""
    for name, cls in table.items():
        LOSSES.add(name, cls)


def _takes_inputs(fn) -> bool:
    try:
        return "inputs" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def loss_value(criterion: nn.Module, outputs, target: torch.Tensor, inputs: torch.Tensor):
    """``criterion(outputs, target)``, with ``inputs=`` too for a loss that takes the degraded input."""
    if _takes_inputs(criterion.forward):
        return criterion(outputs, target, inputs=inputs)
    return criterion(outputs, target)


def discriminator_value(criterion: nn.Module, outputs, target: torch.Tensor, inputs: torch.Tensor):
    """``criterion.discriminator_loss(outputs, target)``, with ``inputs=`` where it takes them."""
    if _takes_inputs(criterion.discriminator_loss):
        return criterion.discriminator_loss(outputs, target, inputs=inputs)
    return criterion.discriminator_loss(outputs, target)


def all_losses() -> dict[str, type[nn.Module]]:
    """Every registered loss class by name."""
    LOSSES.load()
    return dict(LOSSES)


def loss_names() -> list[str]:
    return LOSSES.names()


def build_loss(name: str, **kwargs) -> nn.Module:
    """The loss registered as ``name`` (``l1``, ``glsgn`` or a baseline's), built with ``kwargs``.

    Raises:
        InputError: unknown name; or (``glsgn``) VGG-19 weights missing while the perceptual weight is not 0.
    """
    return LOSSES.get_entry(name)(**kwargs)
