"""Every loss uhr4k trains with, behind one registry (:mod:`uhr4k.models.losses.registry`).

- ``glsgn``: the paper's losses (``l1``, ``glsgn``: eq. 11, ``glsgn_ssim``);
- ``baselines``: the published losses of the deraining and dehazing baselines;
- ``reflection``: those of the reflection-removal baselines;
- ``terms``: the pieces they share (output splitting, SSIM maps, VGG activations).
"""
from uhr4k.models.losses.registry import (
    LOSSES,
    all_losses,
    build_loss,
    discriminator_value,
    loss_names,
    loss_value,
    register_losses,
)

__all__ = ["LOSSES", "all_losses", "build_loss", "discriminator_value", "loss_names", "loss_value",
           "register_losses"]
