"""NAFNet (Chen et al., ECCV 2022): a U-Net of nonlinear-activation-free blocks.

Our implementation of the published architecture (megvii-research/NAFNet). A block is
LayerNorm -> 1x1 conv (x2 channels) -> 3x3 depthwise conv -> SimpleGate (split channels, multiply)
-> simplified channel attention -> 1x1 conv, a learned per-channel residual scale ``beta``; then a
gated feed-forward part with its own scale ``gamma``. Both scales start at zero, so a fresh network is
the identity plus the global residual.

Registered configurations:

- ``nafnet-w64``: the GoPro deblurring model, width 64, encoder blocks [1, 1, 1, 28], 1 middle block,
  decoder blocks [1, 1, 1, 1]; 67.89 M parameters. Trained with the PSNR loss.
- ``nafnet-w32``: the same layout at width 32 (the released "NAFNet-GoPro-width32"), 17.11 M.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from uhr4k.models.baseline_common import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model


class LayerNorm2d(nn.Module):
    """Layer normalization over the channel axis of (B, C, H, W), with per-channel affine terms."""

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[None, :, None, None] + self.bias[None, :, None, None]


class SimpleGate(nn.Module):
    """Split (B, 2C, H, W) into two halves along channels and multiply them: (B, C, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """One NAFNet block on (B, C, H, W); the output has the same shape."""

    def __init__(self, channels: int, dw_expand: int = 2, ffn_expand: int = 2):
        super().__init__()
        dw = channels * dw_expand
        ffn = channels * ffn_expand
        self.norm1 = LayerNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.gate = SimpleGate()
        # Simplified channel attention: global average, one 1x1 conv, multiply (no activation).
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.conv3 = nn.Conv2d(dw // 2, channels, 1)

        self.norm2 = LayerNorm2d(channels)
        self.conv4 = nn.Conv2d(channels, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, channels, 1)

        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gate(self.conv2(self.conv1(self.norm1(x))))
        y = self.conv3(y * self.sca(y))
        x = x + y * self.beta
        y = self.conv5(self.gate(self.conv4(self.norm2(x))))
        return x + y * self.gamma


class NAFNet(nn.Module):
    """NAFNet image restorer.

    Args:
        width: channels at full resolution; doubled at each of the ``len(enc_blocks)`` downsamplings.
        enc_blocks: NAFBlocks per encoder level.
        middle_blocks: NAFBlocks at the lowest resolution.
        dec_blocks: NAFBlocks per decoder level (same length as ``enc_blocks``).

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> (B, 3, H, W); any H, W (padded inside to a multiple
    of ``2 ** len(enc_blocks)`` and cropped back).
    """

    default_loss = "psnr"

    def __init__(self, width: int = 64, enc_blocks=(1, 1, 1, 28), middle_blocks: int = 1,
                 dec_blocks=(1, 1, 1, 1), in_channels: int = 3):
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError(f"enc_blocks {enc_blocks} and dec_blocks {dec_blocks} differ in length")
        self.intro = nn.Conv2d(in_channels, width, 3, padding=1)
        self.ending = nn.Conv2d(width, in_channels, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.decoders, self.ups = nn.ModuleList(), nn.ModuleList()
        chan = width
        for n in enc_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(n)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, stride=2))
            chan *= 2
        self.middle = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blocks)])
        for n in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(n)]))
        self.multiple = 2 ** len(enc_blocks)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, self.in_channels)
        inp, h, w = pad_to_multiple(x, self.multiple)
        y = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs, strict=True):
            y = encoder(y)
            skips.append(y)
            y = down(y)
        y = self.middle(y)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips), strict=True):
            y = decoder(up(y) + skip)
        y = self.ending(y) + inp
        return y[..., :h, :w]


@register_model("nafnet-w64")
def nafnet_w64(**kwargs) -> nn.Module:
    return NAFNet(**{"width": 64, "enc_blocks": (1, 1, 1, 28), "middle_blocks": 1,
                     "dec_blocks": (1, 1, 1, 1), **kwargs})


@register_model("nafnet-w32")
def nafnet_w32(**kwargs) -> nn.Module:
    return NAFNet(**{"width": 32, "enc_blocks": (1, 1, 1, 28), "middle_blocks": 1,
                     "dec_blocks": (1, 1, 1, 1), **kwargs})
