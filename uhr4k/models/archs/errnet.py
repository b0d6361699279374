"""ERRNet (Wei et al., CVPR 2019), "Single Image Reflection Removal Exploiting Misaligned Training Data
and Network Enhancements".

Our implementation of the release's ``errnet`` configuration (Vandermode/ERRNet, ``models/arch/default.py``
and ``models/errnet_model.py``): ``DRNet(3 + 1472, 3, 256, 13, norm=None, res_scale=0.1, se_reduction=8,
bottom_kernel_size=1, pyramid=True)`` on the VGG-19 hypercolumn.

1. **Hypercolumn**: the frozen VGG-19 activations relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1
   (64 + 128 + 256 + 512 + 512 = 1472 channels), detached, bilinearly resized to the input size and
   concatenated after the image. The release feeds VGG the [0, 1] image without ImageNet
   normalisation; so do we.
2. **DRNet**: a 1x1 conv to 256 channels, a 3x3 conv, a stride-2 3x3 conv; 13 residual blocks (two 3x3
   convs, squeeze-and-excitation with reduction 8, residual scaled by 0.1); a 4x4 stride-2 transposed
   conv back to full size, a 3x3 conv, pyramid pooling (average pools of 4, 8, 16 and 32 px, each 1x1
   to 64 channels, nearest-upsampled, concatenated, 1x1 bottleneck) and a final 1x1 conv to 3 channels
   *with* a ReLU (the release's ``ConvLayer(..., act=act)``). Every layer has a bias, no normalisation.

The stride-2 conv and the transposed conv need even sizes and the 32 px pool at least 32 px:
``forward`` pads (reflection) to even sizes of at least 32 and crops back; at such sizes it is the
release's forward.

``forward(x)``: (B, 3, H, W) in [0, 1] -> (B, 3, H, W), the transmission (>= 0, as released).

Parameters: 18,953,379 trainable (the paper's Table I: 18.95 M). The VGG-19 trunk (up to relu5_1,
20.0 M values) is a fixed extractor held as *non-persistent* buffers: outside the count, the optimizer
and the state dict, exactly as the release's checkpoint (``{'icnn': DRNet}``) leaves it out and takes
torchvision's ImageNet VGG-19 instead. ``vgg_weights`` (a torchvision ``vgg19`` state dict path) loads
those weights; it is a constructor argument, so uhr4k checkpoints record it and a reload reads it again.
Without it the trunk is a fixed pseudo-random one (seed 0, whatever the global RNG), so that runs
without weights are at least reproducible and reload identically; its results mean nothing.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.archs.vgg import PERCEPTUAL_LAYERS, _features, load_vgg19
from uhr4k.models.registry import register_model

HYPERCOLUMN_LAYERS = PERCEPTUAL_LAYERS   # relu1_1 ... relu5_1 as indices of torchvision's ``features``
HYPERCOLUMN_CHANNELS = 64 + 128 + 256 + 512 + 512
MIN_SIZE = 32   # the largest pyramid pool


class FrozenConv(nn.Module):
    """A padding-1 3x3 convolution whose weight and bias are non-persistent buffers."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.register_buffer("weight", conv.weight.detach().clone(), persistent=False)
        self.register_buffer("bias", conv.bias.detach().clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=1)


def frozen_vgg19(vgg_weights: str | os.PathLike | None = None) -> nn.Sequential:
    """VGG-19 ``features`` up to relu5_1 with torchvision's indices, frozen, from ``vgg_weights`` or a
    fixed seed-0 initialisation."""
    if vgg_weights is not None:
        trunk = load_vgg19(vgg_weights).features
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            trunk = _features(HYPERCOLUMN_LAYERS[-1])
    return nn.Sequential(*(FrozenConv(m) if isinstance(m, nn.Conv2d) else m for m in trunk))


class ConvLayer(nn.Sequential):
    """``conv2d`` (padding ``dilation * (k - 1) // 2`` unless given) then an optional ``act``: the
    release's ConvLayer without normalisation (the errnet configuration has none)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int | None = None,
                 act: bool = True, transposed: bool = False):
        super().__init__()
        padding = (kernel_size - 1) // 2 if padding is None else padding
        conv = nn.ConvTranspose2d if transposed else nn.Conv2d
        self.add_module("conv2d", conv(cin, cout, kernel_size, stride, padding))
        if act:
            self.add_module("act", nn.ReLU())


class SELayer(nn.Module):
    """Squeeze-and-excitation: global average, Linear -> ReLU -> Linear -> sigmoid, channel scaling."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction), nn.ReLU(),
                                nn.Linear(channels // reduction, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class ResidualBlock(nn.Module):
    """``x + res_scale * SE(conv(ReLU(conv(x))))``."""

    def __init__(self, channels: int, se_reduction: int, res_scale: float):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.conv2 = ConvLayer(channels, channels, 3, act=False)
        self.se_layer = SELayer(channels, se_reduction)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.se_layer(self.conv2(self.conv1(x))) * self.res_scale


class PyramidPooling(nn.Module):
    """Context at four scales: for each ``s``, average-pool s x s, 1x1 conv to ``ct`` channels (no bias),
    LeakyReLU 0.2, nearest-upsample; concatenated with the input, 1x1 bottleneck, LeakyReLU 0.2."""

    def __init__(self, channels: int, scales=(4, 8, 16, 32), ct_channels: int = 64):
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AvgPool2d(s), nn.Conv2d(channels, ct_channels, 1, bias=False), nn.LeakyReLU(0.2))
            for s in scales)
        self.bottleneck = nn.Conv2d(channels + len(scales) * ct_channels, channels, 1)
        self.relu = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        priors = [F.interpolate(stage(x), size=size, mode="nearest") for stage in self.stages]
        return self.relu(self.bottleneck(torch.cat([*priors, x], 1)))


class ERRNet(nn.Module):
    """ERRNet's enhanced network on the VGG-19 hypercolumn (see the module docstring).

    Args:
        n_feats: width (release 256); n_resblocks: residual blocks (13); se_reduction: 8; res_scale: 0.1.
        vgg_weights: optional path to a torchvision ``vgg19`` state dict for the frozen VGG-19.
    """

    def __init__(self, n_feats: int = 256, n_resblocks: int = 13, se_reduction: int = 8, res_scale: float = 0.1,
                 vgg_weights: str | os.PathLike | None = None):
        super().__init__()
        self.vgg = frozen_vgg19(vgg_weights)
        self.conv1 = ConvLayer(3 + HYPERCOLUMN_CHANNELS, n_feats, 1)
        self.conv2 = ConvLayer(n_feats, n_feats, 3)
        self.conv3 = ConvLayer(n_feats, n_feats, 3, stride=2)
        self.res_module = nn.Sequential(*(ResidualBlock(n_feats, se_reduction, res_scale)
                                          for _ in range(n_resblocks)))
        self.deconv1 = ConvLayer(n_feats, n_feats, 4, stride=2, padding=1, transposed=True)
        self.deconv2 = ConvLayer(n_feats, n_feats, 3)
        self.pyramid_module = PyramidPooling(n_feats, ct_channels=n_feats // 4)
        self.deconv3 = ConvLayer(n_feats, 3, 1)

    def hypercolumn(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 3 + 1472, H, W): the image and its resized, detached VGG-19 features."""
        feats, y = [x], x
        for i in range(HYPERCOLUMN_LAYERS[-1] + 1):
            y = self.vgg[i](y)
            if i in HYPERCOLUMN_LAYERS:
                feats.append(F.interpolate(y.detach(), size=x.shape[-2:], mode="bilinear", align_corners=False))
        return torch.cat(feats, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x)
        h, w = x.shape[-2:]
        pad_h, pad_w = max(MIN_SIZE, h + h % 2) - h, max(MIN_SIZE, w + w % 2) - w
        if pad_h or pad_w:
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        y = self.conv3(self.conv2(self.conv1(self.hypercolumn(x))))
        y = self.deconv2(self.deconv1(self.res_module(y)))
        return self.deconv3(self.pyramid_module(y))[..., :h, :w]


def convert_release(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The release's checkpoint (``errnet_*.pt``: ``{'icnn': DRNet, 'opt_g': ..., 'netD': ..., ...}``,
    which the loader flattens to ``icnn.conv1.conv2d.weight``, ``opt_g.state...``) -> ours: the ``icnn.``
    entries with the prefix dropped, everything else (optimizer, discriminator) left out. A bare DRNet
    state dict (no ``icnn.`` keys) passes as is. Our names are the release's."""
    if any(k.startswith("icnn.") for k in state_dict):
        return {k[len("icnn."):]: v for k, v in state_dict.items() if k.startswith("icnn.")}
    return {k.removeprefix("module."): v for k, v in state_dict.items()}


@register_model("errnet", tasks=("reflection",), paper="ERRNet (Wei et al., CVPR 2019)",
                summary="DRNet on a frozen VGG-19 hypercolumn (the VGG-19 trunk is not counted)",
                release=("Vandermode/ERRNet", "models/arch/default.py"), published_params="18.95 M",
                default_loss="errnet", recipe="errnet", converter=convert_release)
def errnet(**kwargs) -> nn.Module:
    return ERRNet(**kwargs)
