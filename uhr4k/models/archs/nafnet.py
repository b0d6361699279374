"""NAFNet (Chen et al., ECCV 2022): a U-Net of nonlinear-activation-free blocks.

Our implementation of the published architecture (megvii-research/NAFNet). A block is
LayerNorm -> 1x1 conv (x2 channels) -> 3x3 depthwise conv -> SimpleGate (split channels, multiply)
-> simplified channel attention -> 1x1 conv, a learned per-channel residual scale ``beta``; then a
gated feed-forward part with its own scale ``gamma``. Both scales start at zero, so a fresh network is
the identity plus the global residual.

Inputs are zero-padded on the bottom/right to a multiple of ``2 ** levels`` and cropped back, as the
release's ``check_image_size`` does.

**TLC** (test-time local converter, Chu et al. 2022): the release evaluates its GoPro models as
``NAFNetLocal`` (``options/test/GoPro/NAFNet-width*.yml``): the global average pooling of every channel
attention becomes a local average in a window 1.5 x the feature size that a ``train_size`` (256 x 256)
training crop has at that level (384 px at full resolution, 192 at half ...), once the (padded) input
is larger than that window; smaller inputs still pool globally. Training crops never see the
difference; a 4K image does. ``tlc=True`` (the registered configurations' default) applies it in eval
mode, computed as the release computes it (two cumulative sums, a box difference, replicate padding of
the border to the input size); ``tlc=False``, or training mode, is the plain network.

Registered configurations:

- ``nafnet-w64``: the GoPro deblurring model, width 64, encoder blocks [1, 1, 1, 28], 1 middle block,
  decoder blocks [1, 1, 1, 1], TLC with train size 256; 67.89 M parameters. Trained with the PSNR loss.
- ``nafnet-w32``: the same layout at width 32 (the released "NAFNet-GoPro-width32"), 17.11 M.

Released weights (``NAFNet-GoPro-width64.pth``: BasicSR ``params``) load with
``create_model("nafnet-w64", pretrained=PATH)``: only ``middle_blks`` is named ``middle`` here.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import substitute_keys


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


class ChannelAverage(nn.Module):
    """The channel attention's pooling: (B, C, H, W) -> (B, C, 1, 1) global average, or with ``window``
    (TLC, eval mode only) a (B, C, H, W) local average over a ``window`` (height, width) box.

    The local average is the release's: ``S`` = cumulative sums over W then H, zero-padded by one at the
    top/left; each valid box's sum ``S[i+kh, j+kw] + S[i, j] - S[i, kw+j] - S[i+kh, j]`` over ``kh * kw``,
    with ``(kh, kw)`` = window clipped to the input; the (H-kh+1, W-kw+1) result replicate-padded to
    (H, W), the extra row/column at the bottom/right. A window covering the whole input is the global
    average.
    """

    def __init__(self, window: tuple[int, int] | None = None):
        super().__init__()
        self.window = window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.training or self.window is None or (self.window[0] >= h and self.window[1] >= w):
            return F.adaptive_avg_pool2d(x, 1)
        kh, kw = min(h, self.window[0]), min(w, self.window[1])
        s = F.pad(x.cumsum(dim=-1).cumsum(dim=-2), (1, 0, 1, 0))
        # The release's summation order (s4 + s1 - s2 - s3), so that float32 rounding is the same.
        out = s[..., kh:, kw:] + s[..., :-kh, :-kw] - s[..., :-kh, kw:] - s[..., kh:, :-kw]
        out = out / (kh * kw)
        oh, ow = out.shape[-2:]
        return F.pad(out, ((w - ow) // 2, (w - ow + 1) // 2, (h - oh) // 2, (h - oh + 1) // 2), mode="replicate")

    def extra_repr(self) -> str:
        return f"window={self.window}"


def tlc_window(train_size: int, level: int, multiple: int) -> tuple[int, int]:
    """The release's TLC window at U-Net ``level`` (0 = full resolution): the feature side that a
    ``train_size`` crop (padded to ``multiple``) has there, times 1.5, as integers the way
    ``local_arch.AvgPool2d`` rounds (``side * int(1.5 * train) // train``)."""
    padded = -(-train_size // multiple) * multiple
    side = padded >> level
    k = side * int(train_size * 1.5) // train_size
    return (k, k)


class NAFBlock(nn.Module):
    """One NAFNet block on (B, C, H, W); the output has the same shape.

    ``window``: the TLC window of the channel attention's average (None: global, see
    :class:`ChannelAverage`).
    """

    def __init__(self, channels: int, dw_expand: int = 2, ffn_expand: int = 2,
                 window: tuple[int, int] | None = None):
        super().__init__()
        dw = channels * dw_expand
        ffn = channels * ffn_expand
        self.norm1 = LayerNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.gate = SimpleGate()
        # Simplified channel attention: average (global, or local under TLC), one 1x1 conv, multiply.
        self.sca = nn.Sequential(ChannelAverage(window), nn.Conv2d(dw // 2, dw // 2, 1))
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
        tlc: evaluate with TLC local pooling (the release's ``NAFNetLocal``; see the module docstring).
        train_size: TLC's training crop side (the release's ``train_size=(1, 3, 256, 256)``).

    ``forward(x)``: x (B, 3, H, W) in [0, 1] -> (B, 3, H, W); any H, W (zero-padded inside to a
    multiple of ``2 ** len(enc_blocks)`` and cropped back).
    """

    def __init__(self, width: int = 64, enc_blocks=(1, 1, 1, 28), middle_blocks: int = 1,
                 dec_blocks=(1, 1, 1, 1), in_channels: int = 3, tlc: bool = False, train_size: int = 256):
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError(f"enc_blocks {enc_blocks} and dec_blocks {dec_blocks} differ in length")
        self.multiple = 2 ** len(enc_blocks)
        self.tlc, self.train_size = bool(tlc), int(train_size)

        def window(level: int):
            return tlc_window(self.train_size, level, self.multiple) if self.tlc else None

        self.intro = nn.Conv2d(in_channels, width, 3, padding=1)
        self.ending = nn.Conv2d(width, in_channels, 3, padding=1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.decoders, self.ups = nn.ModuleList(), nn.ModuleList()
        chan = width
        for level, n in enumerate(enc_blocks):
            self.encoders.append(nn.Sequential(*[NAFBlock(chan, window=window(level)) for _ in range(n)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, stride=2))
            chan *= 2
        levels = len(enc_blocks)
        self.middle = nn.Sequential(*[NAFBlock(chan, window=window(levels)) for _ in range(middle_blocks)])
        for level, n in zip(range(levels - 1, -1, -1), dec_blocks, strict=True):
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan, window=window(level)) for _ in range(n)]))
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, self.in_channels)
        inp, h, w = pad_to_multiple(x, self.multiple, mode="constant")  # zeros, as check_image_size
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


def convert_release(state: dict) -> dict:
    """The authors' release (megvii-research/NAFNet ``NAFNet-GoPro-width64.pth`` ...: BasicSR ``params`` of
    ``NAFNet_arch.py``) -> ours: ``middle_blks`` is ``middle`` here; everything else has the same name."""
    return substitute_keys(state, [(r"^middle_blks\.", "middle.")])


GOPRO = {"enc_blocks": (1, 1, 1, 28), "middle_blocks": 1, "dec_blocks": (1, 1, 1, 1), "tlc": True,
         "train_size": 256}


@register_model("nafnet-w64", tasks=("deblurring",), paper="NAFNet (Chen et al., ECCV 2022)",
                summary="GoPro: width 64, encoder [1, 1, 1, 28], middle 1, decoder [1, 1, 1, 1], TLC",
                release=("megvii-research/NAFNet", "basicsr/models/archs/NAFNet_arch.py"),
                published_params="67.89 M", default_loss="psnr", recipe="nafnet-w64", converter=convert_release)
def nafnet_w64(**kwargs) -> nn.Module:
    return NAFNet(**{"width": 64, **GOPRO, **kwargs})


@register_model("nafnet-w32", tasks=("deblurring",), paper="NAFNet (Chen et al., ECCV 2022)",
                summary="GoPro: the same layout at width 32",
                release=("megvii-research/NAFNet", "basicsr/models/archs/NAFNet_arch.py"),
                default_loss="psnr", recipe="nafnet-w32", converter=convert_release)
def nafnet_w32(**kwargs) -> nn.Module:
    return NAFNet(**{"width": 32, **GOPRO, **kwargs})
