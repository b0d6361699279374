"""AECR-Net (Wu et al., CVPR 2021, "Contrastive Learning for Compact Single Image Dehazing").

Our implementation of the released architecture (GlassyWu/AECR-Net, ``models/AECRNet.py``
``Dehaze(3, 3, ngf=64)``, with ``models/deconv.py`` and DCNv2):

1. **FastDeconv** pre-processing: a 3x3 conv (3 -> 3 channels) whose input patches are whitened
   ("network deconvolution", Ye et al. 2020): in training, the mean and the inverse square root of the
   covariance of the 27-dimensional im2col patches (sampled every 3rd pixel; Newton-Schulz, 5 iterations,
   eps 1e-5) are folded into the conv's weight and bias, and tracked with momentum 0.1 in the buffers
   ``running_mean`` / ``running_deconv`` that evaluation uses (like batch norm's statistics).
2. A 7x7 conv to 64 channels and two stride-2 3x3 convs to 128 and 256 (1/4 scale).
3. **One** FFA-style DehazeBlock (conv-ReLU-skip, conv, channel and pixel attention, skip) applied 6
   times, and **one** DCNv2 deformable 3x3 conv applied twice: the weights are shared, as released.
4. Adaptive mixing: ``sigmoid(w) * encoder + (1 - sigmoid(w)) * decoder`` at 1/4 (w = -1 at init) and
   1/2 scale (w = -0.6), two stride-2 transposed convs, a 7x7 conv and tanh.

``forward(x)``: x (B, 3, H, W) RGB in [0, 1] (the release's training reads [0, 1] images, normalisation
commented out) -> the dehazed (B, 3, H, W) in (-1, 1) after tanh, trained towards the [0, 1] target.
Sizes must be multiples of 4 for the mixing; ours reflect-pads inside and crops back.

Deviations from the release, for portability, not results: DCNv2 is a CUDA extension (and the
release calls ``.cuda()`` on it); we use :func:`uhr4k.models.archs.deform_conv.modulated_deform_conv2d`, the same
operator in plain PyTorch. FastDeconv's ``torch.addmm(beta, M, alpha, A, B)`` is a signature current
PyTorch rejects; we compute the same ``beta * M + alpha * A @ B``. Its Python-side ``counter`` (used only
by the release's off-by-default ``freeze`` option) is not kept.

Registered configuration ``aecrnet``: 2,614,229 parameters (plus the 27 + 27 x 27 FastDeconv buffers).
Module names are the release's; its state dicts load as they are. Trained with ``l1_contrastive``: L1 plus
0.1 x the contrastive regulariser on VGG-19 features (see :mod:`uhr4k.models.losses.baselines`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.deform_conv import DCN
from uhr4k.models.archs.ffanet import Block as DehazeBlock
from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import same_layout

MULTIPLE = 4  # two stride-2 levels, mixed with their encoder features


def isqrt_newton_schulz(a: torch.Tensor, iterations: int) -> torch.Tensor:
    """Approximate ``a^(-1/2)`` of a symmetric positive-definite (n, n) matrix by Newton-Schulz
    iterations on ``a / ||a||_F`` (differentiable)."""
    norm = a.norm()
    eye = torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
    y, z = a / norm, eye
    for _ in range(iterations):
        t = 0.5 * (3.0 * eye - z @ y)
        y, z = y @ t, t @ z
    return z / torch.sqrt(norm)


class FastDeconv(nn.Conv2d):
    """A convolution on whitened input patches (network deconvolution), one weight group.

    Buffers: ``running_mean`` (k*k*B,) and ``running_deconv`` (k*k*B, k*k*B) with B = the channel block
    (min(block, in_channels)); both start as 0 / identity, so a fresh module in eval mode is a plain conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 eps: float = 1e-5, n_iter: int = 5, momentum: float = 0.1, block: int = 64, sampling_stride: int = 3):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding)
        if kernel_size < 2:
            raise ValueError("FastDeconv here supports kernel_size >= 2 (the release's 1x1 path is not used)")
        self.eps, self.n_iter, self.momentum = eps, n_iter, momentum
        # The release's channel block: all channels if fewer than ``block``, else a divisor of them.
        self.block = in_channels if block > in_channels else math.gcd(block, in_channels)
        self.num_features = kernel_size ** 2 * self.block
        self.sampling_stride = sampling_stride * stride
        self.register_buffer("running_mean", torch.zeros(self.num_features))
        self.register_buffer("running_deconv", torch.eye(self.num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        groups_of_block = c // self.block
        if self.training:
            # im2col on a strided subset of positions: (B * L, C * k * k) -> rows of k * k * block values.
            cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.sampling_stride).transpose(1, 2)
            cols = cols.reshape(-1, self.num_features, groups_of_block).transpose(1, 2).reshape(-1, self.num_features)
            mean = cols.mean(0)
            centred = cols - mean
            eye = torch.eye(self.num_features, dtype=x.dtype, device=x.device)
            cov = self.eps * eye + centred.t() @ centred / centred.shape[0]
            deconv = isqrt_newton_schulz(cov, self.n_iter)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(mean.detach() * self.momentum)
                self.running_deconv.mul_(1 - self.momentum).add_(deconv.detach() * self.momentum)
        else:
            mean, deconv = self.running_mean, self.running_deconv
        # Fold the whitening into the conv: X deconv W = X (deconv W); the mean becomes a bias shift.
        w = self.weight.reshape(-1, self.num_features, groups_of_block).transpose(1, 2).reshape(-1, self.num_features)
        w = w @ deconv
        b = self.bias - (w @ mean[:, None]).reshape(self.out_channels, -1).sum(1)
        w = w.reshape(-1, groups_of_block, self.num_features).transpose(1, 2).reshape(self.weight.shape)
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation)


class DCNBlock(nn.Module):
    """The release's wrapper of one DCNv2 ``DCN`` (kept for its ``dcn.`` key prefix)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.dcn = DCN(in_channels, out_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dcn(x)


class Mix(nn.Module):
    """``sigmoid(w) * a + (1 - sigmoid(w)) * b`` with one learned scalar ``w``."""

    def __init__(self, m: float):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([float(m)]))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        factor = torch.sigmoid(self.w)
        return a * factor + b * (1 - factor)


class AECRNet(nn.Module):
    """AECR-Net's ``Dehaze``. Args: ``ngf`` (64), ``block_repeats`` (6 applications of the shared
    DehazeBlock), ``dcn_repeats`` (2 of the shared DCN)."""

    def __init__(self, ngf: int = 64, block_repeats: int = 6, dcn_repeats: int = 2):
        super().__init__()
        self.block_repeats, self.dcn_repeats = block_repeats, dcn_repeats
        self.deconv = FastDeconv(3, 3, kernel_size=3, stride=1, padding=1)
        self.down1 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.ReLU(True))
        self.down2 = nn.Sequential(nn.Conv2d(ngf, ngf * 2, 3, stride=2, padding=1), nn.ReLU(True))
        self.down3 = nn.Sequential(nn.Conv2d(ngf * 2, ngf * 4, 3, stride=2, padding=1), nn.ReLU(True))
        self.block = DehazeBlock(ngf * 4)
        self.up1 = nn.Sequential(nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, stride=2, padding=1, output_padding=1),
                                 nn.ReLU(True))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(ngf * 2, ngf, 3, stride=2, padding=1, output_padding=1),
                                 nn.ReLU(True))
        self.up3 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())
        self.dcn_block = DCNBlock(ngf * 4, ngf * 4)
        self.mix1, self.mix2 = Mix(-1.0), Mix(-0.6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x)
        x, height, width = pad_to_multiple(x, MULTIPLE)
        down1 = self.down1(self.deconv(x))
        down2 = self.down2(down1)
        down3 = self.down3(down2)
        y = down3
        for _ in range(self.block_repeats):
            y = self.block(y)
        for _ in range(self.dcn_repeats):
            y = self.dcn_block(y)
        up1 = self.up1(self.mix1(down3, y))
        out = self.up3(self.up2(self.mix2(down2, up1)))
        return out[:, :, :height, :width]



# Released weights load as they are: the release's state dict, ``module.`` stripped by the loader.
@register_model("aecrnet", tasks=("dehazing",), paper="AECR-Net (Wu et al., CVPR 2021)",
                summary="FastDeconv, one DehazeBlock x 6 and one DCNv2 conv x 2 (shared weights) at 1/4",
                release=("GlassyWu/AECR-Net", "models/AECRNet.py"), published_params="2,614,229",
                default_loss="l1_contrastive", converter=same_layout)
def aecrnet(**kwargs) -> nn.Module:
    return AECRNet(**kwargs)
