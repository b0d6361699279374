"""The pieces the losses are built from: a model's outputs split into the final image and its stages,
targets at each stage's scale, SSIM maps, VGG-19 activations and the perceptual weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from uhr4k.models.archs.vgg import VGG19Features

# Weights of relu1_1 ... relu5_1 in the perceptual distance (ERRNet / DMGN lineage).
PERCEPTUAL_WEIGHTS = (1 / 2.6, 1 / 4.8, 1 / 3.7, 1 / 5.6, 10 / 1.5)


def split_outputs(outputs) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(final image, [intermediate outputs]) of whatever a model returned."""
    if isinstance(outputs, (tuple, list)):
        return outputs[0], list(outputs[1:])
    return outputs, []


def resize_target(target: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The ground truth at an output's scale: antialiased bilinear (area-like for x1/2^k)."""
    if target.shape[-2:] == like.shape[-2:]:
        return target
    return F.interpolate(target, size=like.shape[-2:], mode="bilinear", align_corners=False, antialias=True)


def checked_outputs(outputs, target: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """:func:`split_outputs`, with the final image checked against the (B, C, H, W) target."""
    final, stages = split_outputs(outputs)
    if final.ndim != 4 or final.shape != target.shape:
        raise ValueError(f"final output {tuple(final.shape)} and target {tuple(target.shape)} must be the same "
                         "(B, C, H, W) shape")
    return final, stages



def raw_vgg_features(vgg: VGG19Features, x: torch.Tensor, layers) -> list[torch.Tensor]:
    """VGG-19 activations at ``layers`` of ``x`` fed as is (no ImageNet normalisation), as the IBCLN and
    CFDNet releases call their VGG."""
    out = []
    for i, layer in enumerate(vgg.features):
        x = layer(x)
        if i in layers:
            out.append(x)
        if i >= max(layers):
            break
    return out



def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(size, size) Gaussian weights summing to 1."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g).float()


def ssim_map(pred: torch.Tensor, target: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (B, C, H, W) of images in [0, 1] (data range 1), Gaussian-windowed per channel
    with zero "same" padding (the pytorch-ssim convention PReNet trains with); differentiable."""
    c = pred.shape[1]
    k = window.to(pred.dtype)[None, None].expand(c, 1, *window.shape)
    pad = window.shape[-1] // 2

    def filt(t):
        return F.conv2d(t, k, padding=pad, groups=c)

    mu_x, mu_y = filt(pred), filt(target)
    sxx = filt(pred * pred) - mu_x ** 2
    syy = filt(target * target) - mu_y ** 2
    sxy = filt(pred * target) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2))

