"""Dark channel prior dehazing (He, Sun and Tang, CVPR 2009 / TPAMI 2011) with guided-filter refinement.

The classical baseline: no parameters, no training. With the haze model ``I = J t + A (1 - t)``:

1. dark channel ``D(x) = min over a patch around x of min over RGB of I``;
2. atmospheric light ``A``: among the 0.1 % pixels with the brightest dark channel, the colour of the
   one with the highest intensity in ``I``;
3. transmission ``t = 1 - omega * dark(I / A)``, omega = 0.95 (keeps a little haze for depth cues);
4. ``t`` refined by a guided filter (He et al., ECCV 2010) with the grey image as the guide, the
   replacement for the original soft matting;
5. ``J = (I - A) / max(t, t0) + A``, t0 = 0.1, clipped to [0, 1].

Pixel-unit parameters (patch 15, filter radius 60) are the papers' values for images of about
600 x 400; they are scaled with the image's short side relative to ``reference_size`` = 400 px, so a
4K image gets a patch of 81 px and a radius of 324 px (scale-aware, as everywhere in uhr4k). The box
filter runs on cumulative sums, so its cost does not grow with the radius.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.baseline_common import check_image_batch
from uhr4k.models.registry import register_model

# ITU-R BT.601 luma weights: the grey guide image.
LUMA = (0.299, 0.587, 0.114)


def min_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """Minimum over a ``size`` x ``size`` window (odd size), edges replicated; (B, C, H, W) -> same.

    Separable: a vertical then a horizontal 1-D minimum (the min of a box is the min of column mins).
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be odd and positive, got {size}")
    r = size // 2
    x = F.pad(x, (0, 0, r, r), mode="replicate")
    x = -F.max_pool2d(-x, (size, 1), stride=1)
    x = F.pad(x, (r, r, 0, 0), mode="replicate")
    return -F.max_pool2d(-x, (1, size), stride=1)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2 radius + 1)^2 window clipped to the image, via cumulative sums: O(1) per pixel.

    (B, C, H, W) -> (B, C, H, W). Near the border the window shrinks (He's ``boxfilter`` divided by
    the count ``N``). Sums run in float64 so that 4K-sized prefix sums keep float32 precision.
    """
    h, w = x.shape[-2:]

    def mean_along(t: torch.Tensor, dim: int, n: int) -> torch.Tensor:
        c = torch.cumsum(t, dim=dim)
        c = torch.cat([torch.zeros_like(c.narrow(dim, 0, 1)), c], dim=dim)  # c[i] = sum of t[:i]
        idx = torch.arange(n, device=t.device)
        hi = (idx + radius + 1).clamp(max=n)
        lo = (idx - radius).clamp(min=0)
        count = (hi - lo).to(t.dtype)
        shape = [1] * t.ndim
        shape[dim] = n
        return (c.index_select(dim, hi) - c.index_select(dim, lo)) / count.view(shape)

    y = mean_along(x.double(), 2, h)
    return mean_along(y, 3, w).to(x.dtype)


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Grey-guide guided filter (He et al. 2010): guide, src (B, 1, H, W) -> filtered (B, 1, H, W).

    Locally ``q = a * guide + b`` with ``a = cov(guide, src) / (var(guide) + eps)``; ``a``, ``b``
    averaged over the windows that cover each pixel.
    """
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(src, radius)
    cov_ip = box_mean(guide * src, radius) - mean_i * mean_p
    var_i = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box_mean(a, radius) * guide + box_mean(b, radius)


def atmospheric_light(image: torch.Tensor, dark: torch.Tensor, fraction: float = 1e-3) -> torch.Tensor:
    """He et al.'s estimate of A: image (B, 3, H, W), dark (B, 1, H, W) -> A (B, 3)."""
    b = image.shape[0]
    flat_dark = dark.reshape(b, -1)
    k = max(1, int(flat_dark.shape[1] * fraction))
    candidates = flat_dark.topk(k, dim=1).indices                      # (B, k)
    flat = image.reshape(b, 3, -1)
    colours = flat.gather(2, candidates[:, None].expand(b, 3, k))      # (B, 3, k)
    brightest = colours.sum(1).argmax(1)                               # (B,)
    return colours.gather(2, brightest[:, None, None].expand(b, 3, 1))[..., 0]


class DarkChannelPrior(nn.Module):
    """Single-image dehazing by the dark channel prior; no learned parameters.

    Args:
        patch: dark-channel window at ``reference_size`` (odd; scaled with the image).
        omega: fraction of haze removed.
        t0: lower bound of the transmission.
        radius: guided-filter radius at ``reference_size`` (scaled with the image).
        eps: guided-filter regularisation (intensities in [0, 1]).
        reference_size: the short side, in pixels, at which ``patch`` and ``radius`` apply.

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> dehazed (B, 3, H, W) in [0, 1]; any H, W.
    """

    default_loss = None  # classical: nothing to train

    def __init__(self, patch: int = 15, omega: float = 0.95, t0: float = 0.1, radius: int = 60,
                 eps: float = 1e-4, reference_size: int = 400):
        super().__init__()
        self.patch, self.omega, self.t0 = patch, omega, t0
        self.radius, self.eps, self.reference_size = radius, eps, reference_size

    def scaled_sizes(self, height: int, width: int) -> tuple[int, int]:
        """(patch, radius) in pixels for an image of ``height`` x ``width``."""
        scale = min(height, width) / self.reference_size
        patch = max(3, int(round(self.patch * scale)) | 1)
        radius = max(1, int(round(self.radius * scale)))
        return patch, radius

    def transmission(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Refined transmission (B, 1, H, W) in [t0, 1] and atmospheric light (B, 3)."""
        patch, radius = self.scaled_sizes(*x.shape[-2:])
        dark = min_filter(x.amin(1, keepdim=True), patch)
        light = atmospheric_light(x, dark).clamp(min=1e-3)
        raw = 1 - self.omega * min_filter((x / light[:, :, None, None]).amin(1, keepdim=True), patch)
        grey = sum(w * x[:, i:i + 1] for i, w in enumerate(LUMA))
        refined = guided_filter(grey, raw, radius, self.eps)
        return refined.clamp(self.t0, 1.0), light

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x)
        t, light = self.transmission(x)
        light = light[:, :, None, None]
        return ((x - light) / t + light).clamp(0.0, 1.0)


@register_model("dcp")
def dcp(**kwargs) -> nn.Module:
    return DarkChannelPrior(**kwargs)
