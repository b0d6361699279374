"""Laplacian-pyramid operators and GLSGN's learned-mask synthesis (paper eq. 6-7).

``d`` (blur-and-halve) is the Burt-Adelson reduce: a separable binomial 5-tap filter
``[1, 4, 6, 4, 1] / 16`` with reflect padding, then every second pixel. ``u`` (the paper's "Up") is
bilinear x2 interpolation. A band is ``h = x - u(d(x))``; the recurrence ``x = h + u(d(x))`` is exact
for any image, which is what makes the synthesis invertible.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

_BINOMIAL_5 = (1.0, 4.0, 6.0, 4.0, 1.0)
MASK_INIT_LOGIT = 3.0


def _check_image(x: torch.Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got shape {tuple(x.shape)}")


def blur_halve(x: torch.Tensor) -> torch.Tensor:
    """``d``: binomial 5x5 blur then take every second pixel.

    Args:
        x: (B, C, H, W), H and W even and at least 3.
    Returns:
        (B, C, H/2, W/2).
    """
    _check_image(x)
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"blur_halve needs an even height and width, got shape {tuple(x.shape)}")
    c = x.shape[1]
    taps = torch.tensor(_BINOMIAL_5, dtype=x.dtype, device=x.device) / 16.0
    # Replicate padding where reflect is impossible (a side of 2 pixels); reflect otherwise, as OpenCV's pyrDown.
    mode = "reflect" if min(x.shape[-2:]) > 2 else "replicate"
    padded = F.pad(x, (2, 2, 2, 2), mode=mode)
    # Separable: horizontal pass at stride 2, then vertical pass at stride 2 (4x fewer MACs than 5x5 then stride).
    horizontal = F.conv2d(padded, taps.view(1, 1, 1, 5).expand(c, 1, 1, 5), stride=(1, 2), groups=c)
    return F.conv2d(horizontal, taps.view(1, 1, 5, 1).expand(c, 1, 5, 1), stride=(2, 1), groups=c)


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """``u``: bilinear x2 (half-pixel centres, as ``cv2.resize`` INTER_LINEAR). (B, C, h, w) -> (B, C, 2h, 2w)."""
    _check_image(x)
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def high_band(x: torch.Tensor) -> torch.Tensor:
    """``h = x - u(d(x))``, the high-frequency band of one pyramid level. (B, C, H, W) -> same."""
    return x - upsample2(blur_halve(x))


class MaskNet(nn.Module):
    """Predicts one band's mask M in (0, 1), (B, 3, h, w), from the band, the reconstruction so far
    and (mask updating, as LPTN) the coarser level's mask upsampled.

    Args:
        in_channels: 6 for the coarsest band (band + low-pass), 9 for the others (+ previous mask).
        width: hidden channels of the two 3x3 convolutions.
    """

    def __init__(self, in_channels: int, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 3, 3, padding=1),
        )
        # Open masks at the start (sigmoid(3) = 0.95): the synthesis begins as the plain pyramid recurrence,
        # which returns the finest image when the pathways agree, and learns where to suppress bands.
        nn.init.constant_(self.body[-1].bias, MASK_INIT_LOGIT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x))


class LaplacianSynthesis(nn.Module):
    """``B_out = h'_1 + u(h'_2 + u(... u(h'_K + l)))`` with ``h'_i = h_i * M_i`` (eq. 6-7).

    ``bands[i]`` is the image whose high band forms level i (finest first: B_1, B_2, ..., B_g), each half
    the size of the previous; ``low`` is the image whose low-pass ``l = u(d(low))`` ends the pyramid (B_N),
    the size of the last band. Masks are predicted coarse to fine, each from its band, the upsampled
    reconstruction so far and the upsampled coarser mask.

    Args:
        levels: number of bands K (N for GLSGN with N local pathways).
        learn_masks: False gives the plain Laplacian recurrence (all masks 1, no mask networks).
        used_bands: keep only the finest this many bands (None: all K); the coarser ones contribute
            nothing and have no mask network: ``used_bands=1`` is ``h'_1 + u(u(... l))`` (Table V's
            "h0"), ``2`` is ``h'_1 + u(h'_2 + u(... l))`` ("h0 + h1"). The coarsest band kept predicts its
            mask without a coarser one (6 input channels).
    """

    def __init__(self, levels: int, width: int = 16, learn_masks: bool = True, used_bands: int | None = None):
        super().__init__()
        used = levels if used_bands is None else used_bands
        if not 1 <= used <= levels:
            raise ValueError(f"used_bands must lie in 1..{levels}, got {used_bands}")
        self.levels, self.used_bands = levels, used
        self.masks = nn.ModuleList(
            [MaskNet(9 if i < used - 1 else 6, width) for i in range(used)]) if learn_masks else None

    def forward(self, bands: list[torch.Tensor], low: torch.Tensor,
                return_masks: bool = False):
        """
        Args:
            bands: K tensors (B, 3, H/2^i, W/2^i), i = 0..K-1.
            low: (B, 3, H/2^(K-1), W/2^(K-1)).
        Returns:
            (B, 3, H, W), and the masks of the bands used, finest first, when ``return_masks``.
        """
        if len(bands) != self.levels:
            raise ValueError(f"expected {self.levels} bands, got {len(bands)}")
        for i, band in enumerate(bands[1:], 1):
            if band.shape[-2] * 2 ** i != bands[0].shape[-2] or band.shape[-1] * 2 ** i != bands[0].shape[-1]:
                raise ValueError(f"band {i} has shape {tuple(band.shape)}, expected half of band {i - 1}")
        if low.shape != bands[-1].shape:
            raise ValueError(f"low-pass image has shape {tuple(low.shape)}, expected {tuple(bands[-1].shape)}")
        recon = upsample2(blur_halve(low))
        mask = None
        masks = []
        for i in reversed(range(self.levels)):
            if i < self.levels - 1:
                recon = upsample2(recon)
            if i >= self.used_bands:
                continue                                   # a band left out: it adds nothing
            h = high_band(bands[i])
            if self.masks is not None:
                context = [h, recon] if mask is None else [h, recon, upsample2(mask)]
                mask = self.masks[i](torch.cat(context, dim=1))
                masks.append(mask)
                h = h * mask
            recon = recon + h
        return (recon, masks[::-1]) if return_masks else recon
