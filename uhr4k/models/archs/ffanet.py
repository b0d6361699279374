"""FFA-Net (Qin et al., AAAI 2020): feature fusion attention network for single-image dehazing.

Our implementation of the released architecture (zhilin007/FFA-Net, ``net/models/FFA.py``, built as
``FFA(gps=3, blocks=19)`` by its README and test script). Everything runs at full resolution with 64
channels: a 3x3 head, three groups of 19 blocks (each block: conv-ReLU with a local skip, conv, channel
attention, pixel attention, a block skip; a group ends in a conv and a group skip), a fusion of the three
group outputs by channel weights (global mean -> 1x1 conv to 4 -> ReLU -> 1x1 conv to 192 -> sigmoid,
one weight per group and channel), pixel attention, and two 3x3 convs back to 3 channels.

The release normalises its input (torchvision ``Normalize``, mean (0.64, 0.6, 0.58), std (0.14, 0.15,
0.152), RGB) and its global skip adds that *normalised* input to the output, which is read directly as the
dehazed image (no de-normalisation; the test script clamps to [0, 1]). Ours takes the [0, 1] image and
normalises inside, so ``forward(x)``: x (B, 3, H, W) RGB in [0, 1] -> the dehazed (B, 3, H, W), not
clamped. Stride 1 throughout: any H, W, no padding (the attention means cover the whole image).

Registered configuration ``ffanet``: 4,455,913 parameters; 36.4 T MACs at 4K, with 64-channel 4K
activations (2.1 GB each in fp32): see docs/benchmarks.md for its measured memory. Module names are the
release's; its checkpoints (``{"model": DataParallel state dict}``, unwrapped by the loader) load as they
are. Trained with L1, the release's default loss (its optional perceptual term is off by default).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import same_layout

MEAN = (0.64, 0.6, 0.58)
STD = (0.14, 0.15, 0.152)


def conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class PALayer(nn.Module):
    """Pixel attention: x * sigmoid(1x1 -> ReLU -> 1x1 to one map); (B, C, H, W) -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.pa = nn.Sequential(nn.Conv2d(channels, channels // 8, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(channels // 8, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.pa(x)


class CALayer(nn.Module):
    """Channel attention: x * sigmoid(1x1 -> ReLU -> 1x1 of the global mean); (B, C, H, W) -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.ca = nn.Sequential(nn.Conv2d(channels, channels // 8, 1), nn.ReLU(inplace=True),
                                nn.Conv2d(channels // 8, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.ca(x.mean(dim=(2, 3), keepdim=True))


class Block(nn.Module):
    """x + PA(CA(conv2(relu(conv1(x)) + x)))."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv1, self.conv2 = conv3(dim, dim), conv3(dim, dim)
        self.calayer, self.palayer = CALayer(dim), PALayer(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)) + x)
        return self.palayer(self.calayer(y)) + x


class Group(nn.Module):
    """``blocks`` blocks and a 3x3 conv, with a skip over all of them."""

    def __init__(self, dim: int, blocks: int):
        super().__init__()
        self.gp = nn.Sequential(*(Block(dim) for _ in range(blocks)), conv3(dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gp(x) + x


class FFANet(nn.Module):
    """FFA-Net. Args: ``blocks`` per group (19), ``dim`` channels (64). Three groups, as the release
    asserts."""

    groups = 3

    def __init__(self, blocks: int = 19, dim: int = 64):
        super().__init__()
        self.dim = dim
        self.pre = nn.Sequential(conv3(3, dim))
        self.g1, self.g2, self.g3 = Group(dim, blocks), Group(dim, blocks), Group(dim, blocks)
        self.ca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim * self.groups, dim // 16, 1),
                                nn.ReLU(inplace=True), nn.Conv2d(dim // 16, dim * self.groups, 1), nn.Sigmoid())
        self.palayer = PALayer(dim)
        self.post = nn.Sequential(conv3(dim, dim), conv3(dim, 3))
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x)
        normalised = (x - self.mean) / self.std
        res1 = self.g1(self.pre(normalised))
        res2 = self.g2(res1)
        res3 = self.g3(res2)
        w = self.ca(torch.cat([res1, res2, res3], 1)).view(-1, self.groups, self.dim, 1, 1)
        fused = w[:, 0] * res1 + w[:, 1] * res2 + w[:, 2] * res3
        return self.post(self.palayer(fused)) + normalised



# Released weights load as they are: the release's state dict, ``module.`` stripped by the loader.
@register_model("ffanet", tasks=("dehazing",), paper="FFA-Net (Qin et al., AAAI 2020)",
                summary="`FFA(gps=3, blocks=19)`, 64 channels at full resolution",
                release=("zhilin007/FFA-Net", "net/models/FFA.py"), published_params="4,455,913", default_loss="l1",
                recipe="ffanet", converter=same_layout)
def ffanet(**kwargs) -> nn.Module:
    return FFANet(**kwargs)
