"""CFDNet (Feng et al., ICME 2021), "Contrastive Feature Decomposition for Image Reflection Removal".

Our implementation of the release's generator ``Model(3, 64, s_channel=8, 3)``
(funkdub/Contrastive-Feature-Decomposition-for-Image-Reflection-Removal, ``model.py``), module names kept:

1. **head**: two 3x3 conv + ReLU layers to 64 channels, features ``f``;
2. **contrastive split**: per channel, a softmax and a softmin over all H x W positions weight the
   features, ``f1 = f + f * softmax(f)`` (the reflection branch) and ``f2 = f + f * softmin(f)`` (the
   transmission branch); 1x1 convs read a first estimate from each (``outc1``, ``outc2``);
3. **one U-Net shared by both branches**: residual blocks with instance normalisation (no affine), 64 ->
   128 -> 256 channels through two stride-2 blocks (2, 3 and 6 blocks per scale), bilinear
   (align_corners) upsampling to the skip's size, two 3x3 conv + LeakyReLU 0.2 and 3 / 2 residual
   blocks per decoder scale; a 1x1 conv gives a 3-channel estimate, its 64-channel features go on;
4. **one SptBlk shared by both branches**: a cascade of 3x3 convs halving the channels (64 -> 32 ->
   16 -> 8), whose halves are projected to 8 channels and summed; 1x1 convs ``outc3`` (R) and ``outc4``
   (T) give the final layers.

The softmax over all positions makes the output depend on the whole image: a tiled run differs from a
whole one. Any H x W works (the U-Net resizes to its skips), so ``forward`` does not pad. [0, 1] in and
out, as released.

``forward(x)``: (B, 3, H, W) -> :class:`CFDNetOutput` ``(transmission, reflection, head_reflection,
head_transmission, unet_reflection, unet_transmission)``, each (B, 3, H, W): the release's
``(lx1, lx2, out1, out2, out3, out4)`` reordered so that the final transmission ``out4`` comes first.

Parameters: 9,649,671 (the release's generator; its discriminator is not part of the model).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.registry import register_model


class CFDNetOutput(NamedTuple):
    transmission: torch.Tensor       # out4
    reflection: torch.Tensor         # out3
    head_reflection: torch.Tensor    # lx1
    head_transmission: torch.Tensor  # lx2
    unet_reflection: torch.Tensor    # out1
    unet_transmission: torch.Tensor  # out2


class SingleConv(nn.Module):
    """3x3 conv + ReLU (the release's ``single_conv``)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class OutConv(nn.Module):
    """1x1 conv (the release's ``outconv``)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class ResBlk(nn.Module):
    """``ReLU(shortcut(x) + IN(conv(ReLU(IN(conv(x))))))``; the shortcut is a strided 1x1 conv + IN when
    the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
        self.in1 = nn.InstanceNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.in2 = nn.InstanceNorm2d(cout)
        self.extra = nn.Sequential()
        if cout != cin or stride != 1:
            self.extra = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.InstanceNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))
        return F.relu(self.extra(x) + out)


class UpSample(nn.Module):
    """Bilinear (align_corners) to the skip's size, concatenate [up, skip], two 3x3 conv + LeakyReLU 0.2."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.convA = nn.Conv2d(cin, cout, 3, padding=1)
        self.leakyreluA = nn.LeakyReLU(0.2)
        self.convB = nn.Conv2d(cout, cout, 3, padding=1)
        self.leakyreluB = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
        return self.leakyreluB(self.convB(self.leakyreluA(self.convA(torch.cat([up, skip], 1)))))


def _blocks(cin: int, cout: int, n: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(ResBlk(cin, cout, stride), *(ResBlk(cout, cout) for _ in range(n - 1)))


class UNet(nn.Module):
    """(B, 64, H, W) -> (features (B, 64, H, W), estimate (B, 3, H, W))."""

    def __init__(self, l1: int = 64, l2: int = 128, l3: int = 256, out_ch: int = 3):
        super().__init__()
        self.inc = _blocks(l1, l1, 2)
        self.conv1 = _blocks(l1, l2, 3, stride=2)
        self.conv2 = _blocks(l2, l3, 6, stride=2)
        self.up1 = UpSample(l3 + l2, l2)
        self.conv3 = _blocks(l2, l2, 3)
        self.up2 = UpSample(l2 + l1, l1)
        self.conv4 = _blocks(l1, l1, 2)
        self.outc = nn.Sequential(OutConv(l1, out_ch))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inx = self.inc(x)
        conv1 = self.conv1(inx)
        conv2 = self.conv2(conv1)
        conv3 = self.conv3(self.up1(conv2, conv1))
        conv4 = self.conv4(self.up2(conv3, inx))
        return conv4, self.outc(conv4)


class SptBlk(nn.Module):
    """Split-and-refine: 3x3 convs on successive channel halves (64 -> 32 -> 16 -> 8), the kept halves
    projected to 8 channels and summed: (B, 64, H, W) -> (B, 8, H, W)."""

    def __init__(self, s1: int = 64, s2: int = 32, s3: int = 16, s4: int = 8):
        super().__init__()
        self.conv1 = nn.Sequential(SingleConv(s1, s1))
        self.conv2 = nn.Sequential(SingleConv(s2, s2))
        self.conv3 = nn.Sequential(SingleConv(s3, s3))
        self.conv4 = nn.Sequential(SingleConv(s4, s4))
        self.conv5 = nn.Sequential(SingleConv(s2, s4))
        self.conv6 = nn.Sequential(SingleConv(s3, s4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept1, rest = torch.chunk(self.conv1(x), 2, dim=1)
        kept2, rest = torch.chunk(self.conv2(rest), 2, dim=1)
        kept3, rest = torch.chunk(self.conv3(rest), 2, dim=1)
        return self.conv5(kept1) + self.conv6(kept2) + kept3 + self.conv4(rest)


class CFDNet(nn.Module):
    """CFDNet's generator (see the module docstring)."""

    def __init__(self, in_channel: int = 3, feature_channel: int = 64, s_channel: int = 8, out_channel: int = 3):
        super().__init__()
        f = feature_channel
        if f % 8 or s_channel != f // 8:
            raise ValueError(f"feature_channel must be a multiple of 8 and s_channel feature_channel / 8 "
                             f"(release 64 and 8), got {feature_channel} and {s_channel}")
        self.head = nn.Sequential(SingleConv(in_channel, f), SingleConv(f, f))
        self.outc1 = OutConv(f, out_channel)
        self.outc2 = OutConv(f, out_channel)
        # The release writes the U-Net's 64 / 128 / 256 and SptBlk's 64 / 32 / 16 / 8 out, i.e. for its
        # feature_channel 64; here they follow feature_channel (identical at 64, narrow for fast tests).
        self.unet = UNet(f, 2 * f, 4 * f)
        self.sptblk = SptBlk(f, f // 2, f // 4, f // 8)
        self.outc3 = OutConv(s_channel, out_channel)
        self.outc4 = OutConv(s_channel, out_channel)

    def forward(self, x: torch.Tensor) -> CFDNetOutput:
        check_image_batch(x)
        f = self.head(x)
        flat = f.flatten(2)                                   # (B, C, H*W): weights over all positions
        reflection_weight = F.softmax(flat, dim=-1).view_as(f)
        transmission_weight = F.softmin(flat, dim=-1).view_as(f)
        f1, f2 = f * reflection_weight + f, f * transmission_weight + f
        u1, out1 = self.unet(f1)
        u2, out2 = self.unet(f2)
        return CFDNetOutput(self.outc4(self.sptblk(u2)), self.outc3(self.sptblk(u1)), self.outc1(f1),
                            self.outc2(f2), out1, out2)


def convert_release(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The release's generator state dict (saved from ``nn.DataParallel``: ``module.head.0.conv.0.weight``
    ...; the loader strips ``module.``) -> ours: the same keys, our modules keep the release's names."""
    return {k.removeprefix("module."): v for k, v in state_dict.items()}


@register_model("cfdnet", tasks=("reflection",), paper="CFDNet (Feng et al., ICME 2021)",
                summary="contrastive feature split, one shared U-Net and SptBlk",
                release=("funkdub/Contrastive-Feature-Decomposition-for-Image-Reflection-Removal", "model.py"),
                published_params="9.650 M", default_loss="cfdnet", converter=convert_release)
def cfdnet(**kwargs) -> nn.Module:
    return CFDNet(**kwargs)
