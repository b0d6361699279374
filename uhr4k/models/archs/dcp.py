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
4K image gets a patch of 81 px and a radius of 324 px (scale-aware, as everywhere in uhr4k). The minimum
and box filters cost O(1) per pixel whatever the window: OpenCV's erosion and box filter for CPU tensors,
a running minimum and cumulative sums in torch elsewhere (GPU, meta device).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.registry import register_model

# ITU-R BT.601 luma weights: the grey guide image.
LUMA = (0.299, 0.587, 0.114)


def _opencv_eligible(x: torch.Tensor) -> bool:
    """CPU float32 tensors outside autograd go through OpenCV, whose erosion and box filter make the
    whole method about 6x faster at 4K than the torch code (benchmarks/dcp_min_filter.py); other
    devices (CUDA, meta) use the torch code, which gives the same values (tests check both)."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and not x.requires_grad


def _per_plane(x: torch.Tensor, fn) -> torch.Tensor:
    """Apply ``fn`` (2-D float32 array -> same shape) to every (H, W) plane of (B, C, H, W)."""
    planes = x.detach().contiguous().numpy()
    out = np.empty_like(planes)
    for b in range(planes.shape[0]):
        for c in range(planes.shape[1]):
            out[b, c] = fn(planes[b, c])
    return torch.from_numpy(out)


def running_min(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Minimum over a window of ``size`` (odd) samples centred on each sample along ``dim``, edges
    replicated; same shape as ``x`` (4-D).

    The van Herk / Gil-Werman algorithm: cut the padded signal into blocks of ``size``; the window
    starting at ``i`` is the suffix of one block plus the prefix of the next, so its minimum is the min
    of a backward and a forward running minimum: about 3 comparisons per sample whatever the window,
    where a max-pool makes ``size`` (81 for DCP's patch at 4K).
    """
    r = size // 2
    x = x.movedim(dim, -1)
    n = x.shape[-1]
    padded = F.pad(x, (r, r, 0, 0), mode="replicate")
    tail = (-padded.shape[-1]) % size
    padded = F.pad(padded, (0, tail), value=float("inf"))
    blocks = padded.reshape(*padded.shape[:-1], -1, size)
    forward = blocks.cummin(-1).values.flatten(-2)
    backward = blocks.flip(-1).cummin(-1).values.flip(-1).flatten(-2)
    out = torch.minimum(backward[..., :n], forward[..., size - 1:size - 1 + n])
    return out.movedim(-1, dim)


def min_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """Minimum over a ``size`` x ``size`` window (odd size), edges replicated; (B, C, H, W) -> same.

    Separable: a vertical then a horizontal 1-D running minimum (the min of a box is the min of
    column mins), each O(1) per pixel (:func:`running_min`).
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be odd and positive, got {size}")
    if x.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got shape {tuple(x.shape)}")
    if _opencv_eligible(x):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
        return _per_plane(x, lambda p: cv2.erode(p, kernel, borderType=cv2.BORDER_REPLICATE))
    return running_min(running_min(x, size, 2), size, 3)


def _window_counts(n: int, radius: int, device=None) -> torch.Tensor:
    """How many of the 2 radius + 1 window positions around each of ``n`` samples lie inside."""
    idx = torch.arange(n, device=device)
    return (idx + radius + 1).clamp(max=n) - (idx - radius).clamp(min=0)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2 radius + 1)^2 window clipped to the image: O(1) per pixel.

    (B, C, H, W) -> (B, C, H, W). Near the border the window shrinks (He's ``boxfilter`` divided by
    the count ``N``). OpenCV's unnormalised box filter (double accumulators) on CPU; elsewhere
    cumulative sums in float64, so that 4K-sized prefix sums keep float32 precision.
    """
    h, w = x.shape[-2:]
    counts = (_window_counts(h, radius, x.device)[:, None] * _window_counts(w, radius, x.device)[None, :])
    if _opencv_eligible(x):
        k = 2 * radius + 1
        sums = _per_plane(x, lambda p: cv2.boxFilter(p, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT))
        return sums / counts.to(torch.float32)

    def sum_along(t: torch.Tensor, dim: int, n: int) -> torch.Tensor:
        c = torch.cumsum(t, dim=dim)
        c = torch.cat([torch.zeros_like(c.narrow(dim, 0, 1)), c], dim=dim)  # c[i] = sum of t[:i]
        idx = torch.arange(n, device=t.device)
        hi = (idx + radius + 1).clamp(max=n)
        lo = (idx - radius).clamp(min=0)
        return c.index_select(dim, hi) - c.index_select(dim, lo)

    sums = sum_along(sum_along(x.double(), 2, h), 3, w)
    return (sums / counts.double()).to(x.dtype)


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


@register_model("dcp", tasks=("dehazing",), paper="Dark channel prior (He et al., CVPR 2009)",
                summary="with guided-filter refinement, window sizes scaled to the image",
                untrained="classical: nothing to learn")
def dcp(**kwargs) -> nn.Module:
    return DarkChannelPrior(**kwargs)
