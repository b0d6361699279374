"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) in plain PyTorch, on any device.

``modulated_deform_conv2d`` computes what the DCNv2 CUDA extension and ``torchvision.ops.deform_conv2d``
compute (one deformable group, one weight group): for output pixel p and kernel tap k = i * kw + j,

    out[o, p] = bias[o] + sum_{c, k} weight[o, c, i, j] * mask[k, p] * x[c](p * stride - padding
                                                                    + (i, j) * dilation + offset_k(p))

where ``offset`` (B, 2 * kh * kw, Ho, Wo) holds (dy, dx) of tap k in channels (2k, 2k + 1) (the
interleaved layout of both), and ``x[c](y, x)`` is bilinear interpolation with zeros outside the image
(a corner outside contributes nothing). torchvision's compiled operator does not load beside every torch
build, and the DCNv2 extension is CUDA only; this version samples each tap with ``grid_sample`` (bilinear,
zero padding) and accumulates one 1x1 convolution per tap, so memory stays at one sampled (B, C, Ho, Wo)
tensor at a time and the MAC count equals a dense convolution's.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def modulated_deform_conv2d(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor,
                            bias: torch.Tensor | None = None, stride=1, padding=0, dilation=1) -> torch.Tensor:
    """x (B, C, H, W), offset (B, 2K, Ho, Wo), mask (B, K, Ho, Wo), weight (O, C, kh, kw), K = kh * kw
    -> (B, O, Ho, Wo). Differentiable in all of x, offset, mask, weight and bias."""
    b, c, h, w = x.shape
    out_c, in_c, kh, kw = weight.shape
    if in_c != c:
        raise ValueError(f"weight expects {in_c} input channels, x has {c}")
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    taps = kh * kw
    if offset.shape != (b, 2 * taps, ho, wo) or mask.shape != (b, taps, ho, wo):
        raise ValueError(f"offset {tuple(offset.shape)} / mask {tuple(mask.shape)} do not fit output "
                         f"({b}, {2 * taps} / {taps}, {ho}, {wo})")
    base_y = (torch.arange(ho, device=x.device, dtype=x.dtype) * sh - ph)[:, None]
    base_x = (torch.arange(wo, device=x.device, dtype=x.dtype) * sw - pw)[None, :]
    out = None
    for k in range(taps):
        i, j = divmod(k, kw)
        py = base_y + i * dh + offset[:, 2 * k]          # (B, Ho, Wo) sampling rows, in pixels
        px = base_x + j * dw + offset[:, 2 * k + 1]
        # Pixel centres to grid_sample's [-1, 1] (align_corners=False: pixel n at (2n + 1) / size - 1).
        grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
        sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        term = F.conv2d(sampled * mask[:, k:k + 1], weight[:, :, i, j, None, None])
        out = term if out is None else out + term
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out


class DCN(nn.Module):
    """DCNv2's ``DCN`` module: the offsets and masks come from a zero-initialised conv of the input
    (27 channels for 3x3: o1, o2, m; offset = cat(o1, o2), mask = sigmoid(m)); at initialisation it is a
    plain convolution with every mask at 0.5. Parameter names are the extension's (``weight``, ``bias``,
    ``conv_offset_mask.*``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1, dilation=1):
        super().__init__()
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        kh, kw = _pair(kernel_size)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.conv_offset_mask = nn.Conv2d(in_channels, 3 * kh * kw, (kh, kw), self.stride, self.padding, bias=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.weight[0].numel())  # DCNv2: uniform(+-1 / sqrt(C * kh * kw)), zero bias
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1, o2, m = torch.chunk(self.conv_offset_mask(x), 3, dim=1)
        return modulated_deform_conv2d(x, torch.cat([o1, o2], 1), torch.sigmoid(m), self.weight, self.bias,
                                       self.stride, self.padding, self.dilation)
