"""Building blocks of GLSGN: residual block, patch normalization (eq. 4-5), spatial attention and
perceptual attention consistency (eq. 2-3), and what pathways pass on.

Patches of a pathway travel as one batch ``(B * gh * gw, C, h, w)``, image by image and row by row inside an
image (:mod:`uhr4k.models.archs.glsgn.memory` cuts and stitches them); patch normalization rebuilds an
image's grid from that order.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.glsgn.memory import gate_layout, to_patches


@dataclass
class PathwayContext:
    """What a pathway receives from the pathways that ran before it, one entry per scale (None: absent).

    ``previous_*``: S_{k-1}'s decoded features / attention maps, already pooled to this pathway's scale
    and cut into its patches, (N, C_l, h_l, w_l) / (N, 1, h_l, w_l). ``global_*``: Sg's decoded features
    and f_g(F_g), whole-image maps (B, C_l, h_l, w_l), upsampled by ``global_scale`` on use.
    """

    levels: int
    previous_features: list | None = None
    previous_attention: list | None = None
    global_features: list | None = None
    global_attention: list | None = None
    global_scale: int = 1

    def __post_init__(self):
        for name in ("previous_features", "previous_attention", "global_features", "global_attention"):
            if getattr(self, name) is None:
                setattr(self, name, [None] * self.levels)

    def expand_global(self, whole: torch.Tensor | None, grid: tuple[int, int]) -> torch.Tensor | None:
        """A global whole-image map (B, C, h, w) -> this pathway's patches (B*gh*gw, C, h*s, w*s)."""
        if whole is None:
            return None
        if self.global_scale > 1:
            whole = F.interpolate(whole, scale_factor=float(self.global_scale), mode="bilinear",
                                  align_corners=False)
        return to_patches(whole, grid)


@dataclass
class PathwayResult:
    """A pathway's restored patches and what it passes on to the next pathway."""

    output: torch.Tensor      # (N, 3, h, w) restored patches
    decoded: list             # per scale l: decoded features (N, C_l, h_l, w_l), pooled x2 when exported
    attention: list           # per scale l: its own attention f(E_l), (N, 1, h_l, w_l), pooled x2 when exported


class ResBlock(nn.Module):
    """``x + conv3x3(lrelu(conv3x3(x)))``, channels kept. (N, C, h, w) -> (N, C, h, w)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class PatchNorm(nn.Module):
    """Patch normalization (eq. 4-5) for the residual blocks of a local pathway's decoder.

    For patch g with block input ``x_g`` and block output ``x^_g`` (N, C, h, w), per channel:
    ``r_g = mean(|x^_g| / (|x_g| + eps))`` (the restoring intensity; eps guards the division),
    ``A_g = mean over the existing 4-neighbours n of r_n / r_g`` (1 for a lone patch) and
    ``x^'_g = A_g * x^_g + B(x^_g)`` with ``B`` a 1x1 convolution (the learned bias).

    ``A`` is bounded to ``[1 / max_factor, max_factor]`` (our addition; ``None`` for the bare eq. 4):
    a mean of per-pixel ratios explodes where the block input is near zero, and an unbounded ``A``
    reached 22 in a run that then diverged (docs/benchmarks.md, glsgn).

    The three steps are separate methods so that a pathway can run :meth:`intensity` and
    :meth:`modulate` chunk by chunk and :meth:`factor` once on all patches of an image.
    """

    def __init__(self, channels: int, eps: float = 1e-2, max_factor: float | None = 2.0):
        super().__init__()
        self.eps, self.max_factor = eps, max_factor
        self.bias = nn.Conv2d(channels, channels, 1)

    def intensity(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) twice -> r, (N, C)."""
        return (x_hat.abs() / (x.abs() + self.eps)).mean(dim=(2, 3))

    @staticmethod
    def neighbour_ratio(r: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Eq. 4: r (B*gh*gw, C) -> (B*gh*gw, C), the neighbours' mean intensity over the patch's own."""
        gh, gw = grid
        n, c = r.shape
        if gh * gw == 1:
            return torch.ones_like(r)
        grid_r = r.reshape(n // (gh * gw), gh, gw, c).permute(0, 3, 1, 2)        # (B, C, gh, gw)
        kernel = r.new_tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
        # Zero padding makes a border patch sum only its existing neighbours; count them the same way.
        neighbour_sum = F.conv2d(grid_r.reshape(-1, 1, gh, gw), kernel, padding=1).reshape(grid_r.shape)
        count = F.conv2d(r.new_ones(1, 1, gh, gw), kernel, padding=1)
        a = neighbour_sum / count / grid_r
        return a.permute(0, 2, 3, 1).reshape(n, c)

    def factor(self, r: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """A (B*gh*gw, C): :meth:`neighbour_ratio`, bounded by ``max_factor``."""
        a = self.neighbour_ratio(r, grid)
        if self.max_factor is None:
            return a
        return a.clamp(1.0 / self.max_factor, self.max_factor)

    def modulate(self, x_hat: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``A * x^ + B(x^)``: x_hat (N, C, h, w), a (N, C)."""
        return a[:, :, None, None] * x_hat + self.bias(x_hat)

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """All patches at once: x, x_hat (B*gh*gw, C, h, w) -> (B*gh*gw, C, h, w)."""
        return self.modulate(x_hat, self.factor(self.intensity(x, x_hat), grid))


class SpatialAttention(nn.Module):
    """The gating mask of DMGN (our reading of the paper's Fig. 2b): 1x1 conv -> tanh -> 1x1 conv to
    one channel -> sigmoid. (N, C, h, w) -> (N, 1, h, w) in (0, 1)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.Tanh(), nn.Conv2d(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x))


def apply_gate(features: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """Eq. 3, ``features * gate``: (N, C, h, w) re-weighted by a one-channel map (N, 1, h, w), the gate
    laid out for the product's memory order (:func:`~uhr4k.models.archs.glsgn.memory.gate_layout`)."""
    return features * gate_layout(features, gate)


def consistent_attention(own: torch.Tensor, previous: torch.Tensor | None, global_: torch.Tensor | None,
                         sigma1: float, sigma2: float) -> torch.Tensor:
    """Eq. 2: ``(f_i(E_i) + s1 f_{i-1}(E_{i-1}) + s2 f_g(F_g)) / (1 + s1 + s2)``; missing terms drop out of
    numerator and denominator. All maps (N, 1, h, w); the result stays in (0, 1)."""
    total, weight = own, 1.0
    if previous is not None:
        total, weight = total + sigma1 * previous, weight + sigma1
    if global_ is not None:
        total, weight = total + sigma2 * global_, weight + sigma2
    return total / weight
