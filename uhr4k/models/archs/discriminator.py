"""The spectral-normalized discriminator of GLSGN's conditional adversarial loss (eq. 10) and the hinge loss.

A PatchGAN (pix2pix style: 4x4 convolutions, three of stride 2, widths 64-128-256-512, one logit per
70 x 70 receptive field) with spectral normalization on every convolution (Miyato et al. 2018), as the
paper asks. The paper calls the loss *conditional*: by default D judges the pair (degraded input,
image), concatenated on channels as in pix2pix, so a real pair is ``(I, B)`` and a fake one
``(I, G(I))``; ``conditional=False`` gives the unconditional D that sees the image alone. Hinge loss for
D, ``-E[D(I, G(I))]`` for the generator (the usual SN-GAN companions).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm


class SNPatchDiscriminator(nn.Module):
    """``forward(x, condition=None)``: (B, 3, H, W) in [0, 1] (and, when conditional, the (B, 3, H, W)
    degraded input it was restored from) -> (B, 1, ~H/8, ~W/8) logits (real > 0).

    Args:
        width: channels of the first convolution (doubled at each stride-2 layer).
        layers: stride-2 convolutions.
        conditional: judge the pair (condition, x) on 6 channels; else x alone on 3.
    """

    def __init__(self, width: int = 64, layers: int = 3, conditional: bool = True):
        super().__init__()
        self.conditional = conditional
        blocks: list[nn.Module] = []
        channels_in, channels = (6 if conditional else 3), width
        for _ in range(layers):
            blocks += [spectral_norm(nn.Conv2d(channels_in, channels, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2, inplace=True)]
            channels_in, channels = channels, channels * 2
        blocks += [spectral_norm(nn.Conv2d(channels_in, channels, 4, stride=1, padding=1)),
                   nn.LeakyReLU(0.2, inplace=True),
                   spectral_norm(nn.Conv2d(channels, 1, 4, stride=1, padding=1))]
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W), got shape {tuple(x.shape)}")
        if self.conditional:
            if condition is None:
                raise ValueError("a conditional discriminator judges (input, image) pairs: pass the degraded "
                                 "input as condition")
            if condition.shape != x.shape:
                raise ValueError(f"condition {tuple(condition.shape)} and image {tuple(x.shape)} must have the "
                                 "same (B, 3, H, W) shape")
            x = torch.cat([condition, x], 1)
        elif condition is not None:
            raise ValueError("this discriminator is unconditional: it takes no condition")
        return self.body(x * 2 - 1)


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 10: ``-E[D(G(I))]`` (``-E[D(I, G(I))]`` with a conditional D)."""
    return -fake_logits.mean()
