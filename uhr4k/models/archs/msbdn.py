"""MSBDN-DFF (Dong et al., CVPR 2020): multi-scale boosted dehazing network with dense feature fusion.

Our implementation of the released architecture (BookerDeWitt/MSBDN-DFF, ``networks/MSBDN-DFF-v1-1.py``
``Net(res_blocks=18)`` with ``networks/base_networks.py``'s fusion blocks in their ``iter2`` mode):

- an 11x11 head to 16 channels and four stride-2 encoder levels (32, 64, 128, 256 channels), each level
  three residual blocks (reflection-padded 3x3 convs, PReLU, residual scaled by 0.1) behind a skip;
- **dense feature fusion** after every down- and up-sampling: the new feature is refined by each earlier
  level's feature in turn (encoder: the new feature is brought to the earlier level's scale with
  stride-2 deconvolutions, the earlier feature subtracted, the difference brought back with stride-2
  convolutions and added; the decoder the same in the other direction), 4x4 kernels, PReLU;
- 18 residual blocks at 1/16 scale on twice the feature ("boosting": ``dehaze(2f) + 2f - f``);
- four decoder levels, each a 3x3 stride-2 transposed conv (which gives 2n + 1 rows), a bilinear resize
  to the encoder level's size, the strengthen-operate-subtract boost (``dense(a + b) + (a + b) - a``),
  three residual blocks and the fusion; a reflection-padded 3x3 conv to RGB.

``forward(x)``: x (B, 3, H, W) RGB in [0, 1] -> the dehazed (B, 3, H, W), not clamped (the release's
test script clamps). The release needs H, W multiples of 16; ours reflect-pads to that inside and crops
back. Bilinear resizing uses ``align_corners=False``, what the release's ``F.upsample`` does in
PyTorch >= 0.4.

Registered configuration ``msbdn``: 31,353,061 parameters (Table I: 31.35 M). Module names are the
release's. The release ships a whole pickled module (``model.pkl``), which uhr4k never unpickles: its
``state_dict()`` (extracted with the authors' code) is in our layout and loads with ``pretrained=``.
Trained with MSE, the release's loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import same_layout

MULTIPLE = 16  # four stride-2 levels


class ConvLayer(nn.Module):
    """Reflection padding of k // 2, then a conv (bias)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(nn.Module):
    """A 3x3 stride-2 transposed conv without padding: n -> 2n + 1 (the caller resizes to 2n)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 2):
        super().__init__()
        self.conv2d = nn.ConvTranspose2d(cin, cout, kernel_size, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(x)


class ResidualBlock(nn.Module):
    """x + 0.1 * conv2(prelu(conv1(x))), reflection-padded 3x3 convs, one shared PReLU slope."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.relu = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv1(x))) * 0.1 + x


def residual_blocks(channels: int, n: int = 3) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlock(channels) for _ in range(n)))


class ConvBlock(nn.Module):
    """4x4 stride-2 conv (padding 1) + PReLU: halves the size."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, 2, 1)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class DeconvBlock(nn.Module):
    """4x4 stride-2 transposed conv (padding 1) + PReLU: doubles the size."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(cin, cout, 4, 2, 1)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.deconv(x))


def _fuse(feature: torch.Tensor, earlier: list[torch.Tensor], to_earlier: nn.ModuleList,
          back: nn.ModuleList) -> torch.Tensor:
    """Dense feature fusion (``iter2``): for each earlier feature e_i (the farthest first), bring the
    running fusion to e_i's scale with ``to_earlier[0 .. n-i-1]``, subtract e_i, bring the difference
    back with ``back[n-i-1 .. 0]`` and add it."""
    n = len(to_earlier)
    fusion = feature
    for i, target in enumerate(earlier):
        y = fusion
        for j in range(n - i):
            y = to_earlier[j](y)
        y = y - target
        for j in range(n - i):
            y = back[n - i - j - 1](y)
        fusion = fusion + y
    return fusion


class EncoderFusion(nn.Module):
    """The release's ``Encoder_MDCBlock1`` (``iter2``): a ``num_filter``-channel feature fused with the
    ``num_ft - 1`` earlier, finer encoder features (channels ``num_filter / 2^k``, sizes x 2^k)."""

    def __init__(self, num_filter: int, num_ft: int):
        super().__init__()
        self.up_convs = nn.ModuleList(DeconvBlock(num_filter // 2 ** i, num_filter // 2 ** (i + 1))
                                      for i in range(num_ft - 1))
        self.down_convs = nn.ModuleList(ConvBlock(num_filter // 2 ** (i + 1), num_filter // 2 ** i)
                                        for i in range(num_ft - 1))

    def forward(self, feature: torch.Tensor, earlier: list[torch.Tensor]) -> torch.Tensor:
        return _fuse(feature, earlier, self.up_convs, self.down_convs)


class DecoderFusion(nn.Module):
    """The release's ``Decoder_MDCBlock1`` (``iter2``): fused with the earlier, coarser decoder features
    (channels ``num_filter * 2^k``, sizes / 2^k)."""

    def __init__(self, num_filter: int, num_ft: int):
        super().__init__()
        self.down_convs = nn.ModuleList(ConvBlock(num_filter * 2 ** i, num_filter * 2 ** (i + 1))
                                        for i in range(num_ft - 1))
        self.up_convs = nn.ModuleList(DeconvBlock(num_filter * 2 ** (i + 1), num_filter * 2 ** i)
                                      for i in range(num_ft - 1))

    def forward(self, feature: torch.Tensor, earlier: list[torch.Tensor]) -> torch.Tensor:
        return _fuse(feature, earlier, self.down_convs, self.up_convs)


def _resize(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, like.shape[-2:], mode="bilinear", align_corners=False)


class MSBDN(nn.Module):
    """MSBDN-DFF. Args: ``res_blocks`` at 1/16 scale (18)."""

    def __init__(self, res_blocks: int = 18):
        super().__init__()
        self.conv_input = ConvLayer(3, 16, 11, 1)
        self.dense0 = residual_blocks(16)
        self.conv2x, self.fusion1, self.dense1 = ConvLayer(16, 32, 3, 2), EncoderFusion(32, 2), residual_blocks(32)
        self.conv4x, self.fusion2, self.dense2 = ConvLayer(32, 64, 3, 2), EncoderFusion(64, 3), residual_blocks(64)
        self.conv8x, self.fusion3, self.dense3 = ConvLayer(64, 128, 3, 2), EncoderFusion(128, 4), residual_blocks(128)
        self.conv16x, self.fusion4 = ConvLayer(128, 256, 3, 2), EncoderFusion(256, 5)
        self.dehaze = nn.Sequential()
        for i in range(res_blocks):
            self.dehaze.add_module(f"res{i}", ResidualBlock(256))
        self.convd16x, self.dense_4 = UpsampleConvLayer(256, 128), residual_blocks(128)
        self.fusion_4 = DecoderFusion(128, 2)
        self.convd8x, self.dense_3 = UpsampleConvLayer(128, 64), residual_blocks(64)
        self.fusion_3 = DecoderFusion(64, 3)
        self.convd4x, self.dense_2, self.fusion_2 = UpsampleConvLayer(64, 32), residual_blocks(32), DecoderFusion(32, 4)
        self.convd2x, self.dense_1, self.fusion_1 = UpsampleConvLayer(32, 16), residual_blocks(16), DecoderFusion(16, 5)
        self.conv_output = ConvLayer(16, 3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x)
        x, height, width = pad_to_multiple(x, MULTIPLE)
        res1x = self.conv_input(x)
        skips = [res1x]
        full = self.dense0(res1x) + res1x
        encoder = []
        y = full
        for down, fusion, dense in ((self.conv2x, self.fusion1, self.dense1), (self.conv4x, self.fusion2, self.dense2),
                                    (self.conv8x, self.fusion3, self.dense3)):
            y = fusion(down(y), skips)
            skips.append(y)
            y = dense(y) + y
            encoder.append(y)
        res16x = self.fusion4(self.conv16x(y), skips)
        boosted = 2 * res16x
        y = self.dehaze(boosted) + boosted - res16x
        decoded = [y]
        levels = ((self.convd16x, self.dense_4, self.fusion_4, encoder[2]),
                  (self.convd8x, self.dense_3, self.fusion_3, encoder[1]),
                  (self.convd4x, self.dense_2, self.fusion_2, encoder[0]),
                  (self.convd2x, self.dense_1, self.fusion_1, full))
        for k, (up, dense, fusion, skip) in enumerate(levels):
            up_y = _resize(up(y), skip)
            joined = up_y + skip
            y = fusion(dense(joined) + joined - up_y, decoded)
            if k < len(levels) - 1:
                decoded.append(y)
        return self.conv_output(y)[:, :, :height, :width]



# Released weights load as they are: the release ``Net``'s state dict, taken from its pickled ``model.pkl``.
@register_model("msbdn", tasks=("dehazing",), paper="MSBDN-DFF (Dong et al., CVPR 2020)",
                summary="4-level boosted U-Net with dense feature fusion, 18 residual blocks at 1/16",
                release=("BookerDeWitt/MSBDN-DFF", "networks/MSBDN-DFF-v1-1.py"), published_params="31.35 M (Table I)",
                default_loss="mse", recipe="msbdn", converter=same_layout)
def msbdn(**kwargs) -> nn.Module:
    return MSBDN(**kwargs)
