"""Restormer (Zamir et al., CVPR 2022): a U-Net of transposed-attention transformer blocks.

Our implementation of the published architecture (swz30/Restormer). Attention runs across channels
(a C x C map per head, "multi-Dconv head transposed attention", MDTA), so its cost grows linearly with
the number of pixels; the feed-forward part is a gated depthwise-conv network (GDFN).

Registered configuration ``restormer``: dim 48, blocks [4, 6, 6, 8], heads [1, 2, 4, 8], FFN expansion
2.66, 4 refinement blocks, bias-free convolutions, LayerNorm with bias; 26.13 M parameters. Trained
with L1 (the deraining / deblurring recipes).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import substitute_keys


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of (B, C, H, W), computed per pixel.

    ``with_bias=False`` is Restormer's "BiasFree" variant: the input is divided by its standard
    deviation but not centred.
    """

    def __init__(self, channels: int, with_bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if with_bias else None
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.var(1, keepdim=True, unbiased=False)
        if self.bias is None:
            return x / torch.sqrt(var + self.eps) * self.weight[:, None, None]
        mean = x.mean(1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight[:, None, None] + self.bias[:, None, None]


class TransposedAttention(nn.Module):
    """MDTA: per head, a (C/heads x C/heads) attention map from L2-normalized queries and keys.

    (B, C, H, W) -> (B, C, H, W). A learned temperature per head scales the logits.
    """

    def __init__(self, dim: int, heads: int, bias: bool):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        # (B, heads, C/heads, H*W): attention is between channels, over all pixels.
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1)) * self.temperature
        out = attn.softmax(dim=-1) @ v
        return self.project_out(out.reshape(b, c, h, w))


class GatedDconvFeedForward(nn.Module):
    """GDFN: 1x1 conv to 2 * hidden, 3x3 depthwise conv, GELU(a) * b, 1x1 conv back; (B, C, H, W)."""

    def __init__(self, dim: int, expansion: float, bias: bool):
        super().__init__()
        hidden = int(dim * expansion)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(a) * b)


class TransformerBlock(nn.Module):
    """Pre-norm residual block: x + MDTA(norm(x)), then x + GDFN(norm(x)); (B, C, H, W)."""

    def __init__(self, dim: int, heads: int, ffn_expansion: float, bias: bool, norm_bias: bool):
        super().__init__()
        self.norm1 = ChannelLayerNorm(dim, norm_bias)
        self.attn = TransposedAttention(dim, heads, bias)
        self.norm2 = ChannelLayerNorm(dim, norm_bias)
        self.ffn = GatedDconvFeedForward(dim, ffn_expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def _downsample(dim: int) -> nn.Module:
    """(B, dim, H, W) -> (B, 2 dim, H/2, W/2): conv to dim/2 channels, then pixel-unshuffle."""
    return nn.Sequential(nn.Conv2d(dim, dim // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))


def _upsample(dim: int) -> nn.Module:
    """(B, dim, H, W) -> (B, dim/2, 2H, 2W): conv to 2 dim channels, then pixel-shuffle."""
    return nn.Sequential(nn.Conv2d(dim, dim * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))


class Restormer(nn.Module):
    """Restormer image restorer.

    Args:
        dim: channels at full resolution (doubled per level).
        blocks: transformer blocks per level, encoder levels 1-3 and the latent level 4; the decoder
            mirrors levels 3-1.
        heads: attention heads per level.
        refinement_blocks: blocks after the decoder at full resolution.
        ffn_expansion: GDFN hidden width over ``dim``.
        bias: biases in the convolutions (off in the official configuration).
        norm_bias: LayerNorm "WithBias" (True) or "BiasFree".

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> (B, 3, H, W), a residual on the input; any H, W
    (padded inside to a multiple of 8).
    """

    def __init__(self, dim: int = 48, blocks=(4, 6, 6, 8), heads=(1, 2, 4, 8), refinement_blocks: int = 4,
                 ffn_expansion: float = 2.66, bias: bool = False, norm_bias: bool = True,
                 in_channels: int = 3):
        super().__init__()

        def level(width: int, n: int, n_heads: int) -> nn.Sequential:
            return nn.Sequential(*[TransformerBlock(width, n_heads, ffn_expansion, bias, norm_bias)
                                   for _ in range(n)])

        self.in_channels = in_channels
        self.patch_embed = nn.Conv2d(in_channels, dim, 3, padding=1, bias=bias)
        self.encoder1 = level(dim, blocks[0], heads[0])
        self.down12 = _downsample(dim)
        self.encoder2 = level(dim * 2, blocks[1], heads[1])
        self.down23 = _downsample(dim * 2)
        self.encoder3 = level(dim * 4, blocks[2], heads[2])
        self.down34 = _downsample(dim * 4)
        self.latent = level(dim * 8, blocks[3], heads[3])

        self.up43 = _upsample(dim * 8)
        self.reduce3 = nn.Conv2d(dim * 8, dim * 4, 1, bias=bias)
        self.decoder3 = level(dim * 4, blocks[2], heads[2])
        self.up32 = _upsample(dim * 4)
        self.reduce2 = nn.Conv2d(dim * 4, dim * 2, 1, bias=bias)
        self.decoder2 = level(dim * 2, blocks[1], heads[1])
        self.up21 = _upsample(dim * 2)
        # Level 1 keeps the concatenated 2 * dim channels (no reduction), as published.
        self.decoder1 = level(dim * 2, blocks[0], heads[0])
        self.refinement = level(dim * 2, refinement_blocks, heads[0])
        self.output = nn.Conv2d(dim * 2, in_channels, 3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, self.in_channels)
        inp, h, w = pad_to_multiple(x, 8)
        enc1 = self.encoder1(self.patch_embed(inp))
        enc2 = self.encoder2(self.down12(enc1))
        enc3 = self.encoder3(self.down23(enc2))
        y = self.latent(self.down34(enc3))
        y = self.decoder3(self.reduce3(torch.cat([self.up43(y), enc3], 1)))
        y = self.decoder2(self.reduce2(torch.cat([self.up32(y), enc2], 1)))
        y = self.decoder1(torch.cat([self.up21(y), enc1], 1))
        y = self.output(self.refinement(y)) + inp
        return y[..., :h, :w]


def convert_release(state: dict) -> dict:
    """The authors' release (swz30/Restormer ``deraining.pth``, ``motion_deblurring.pth`` ...: BasicSR
    ``params`` of ``restormer_arch.py``) -> ours: ``patch_embed.proj`` -> ``patch_embed``,
    ``encoder_level1`` -> ``encoder1``, ``down1_2.body.0`` -> ``down12.0``, ``reduce_chan_level3`` ->
    ``reduce3``, LayerNorm ``norm1.body.weight`` -> ``norm1.weight``."""
    return substitute_keys(state, [
        (r"^patch_embed\.proj\.", "patch_embed."),
        (r"^(en|de)coder_level(\d)\.", r"\1coder\2."),
        (r"^(down|up)(\d)_(\d)\.body\.", r"\1\2\3."),
        (r"^reduce_chan_level(\d)\.", r"reduce\1."),
        (r"\.(norm[12])\.body\.", r".\1."),
    ])


@register_model("restormer", tasks=("deraining", "deblurring", "reflection"),
                paper="Restormer (Zamir et al., CVPR 2022)",
                summary="dim 48, blocks [4, 6, 6, 8], heads [1, 2, 4, 8], FFN x2.66, 4 refinement blocks",
                release=("swz30/Restormer", "basicsr/models/archs/restormer_arch.py"), published_params="26.13 M",
                default_loss="l1", recipe="restormer", converter=convert_release)
def restormer(**kwargs) -> nn.Module:
    return Restormer(**kwargs)
