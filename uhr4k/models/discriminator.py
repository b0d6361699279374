"""The spectral-normalized discriminator of GLSGN's adversarial loss (eq. 10) and the hinge loss.

A PatchGAN (pix2pix style: 4x4 convolutions, three of stride 2, widths 64-128-256-512, one logit per
70 x 70 receptive field) with spectral normalization on every convolution (Miyato et al. 2018), as the
paper asks. Hinge loss for D, ``-E[D(G(I))]`` for the generator (the usual SN-GAN companions).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm


class SNPatchDiscriminator(nn.Module):
    """``forward(x)``: (B, 3, H, W) in [0, 1] -> (B, 1, ~H/8, ~W/8) logits (real > 0)."""

    def __init__(self, width: int = 64, layers: int = 3):
        super().__init__()
        blocks: list[nn.Module] = []
        channels_in, channels = 3, width
        for _ in range(layers):
            blocks += [spectral_norm(nn.Conv2d(channels_in, channels, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2, inplace=True)]
            channels_in, channels = channels, channels * 2
        blocks += [spectral_norm(nn.Conv2d(channels_in, channels, 4, stride=1, padding=1)),
                   nn.LeakyReLU(0.2, inplace=True),
                   spectral_norm(nn.Conv2d(channels, 1, 4, stride=1, padding=1))]
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W), got shape {tuple(x.shape)}")
        return self.body(x * 2 - 1)


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 10: ``-E[D(G(I))]``."""
    return -fake_logits.mean()
