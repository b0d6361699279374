"""DerainRLNet (Chen and Li, CVPR 2021, "Robust Representation Learning with Feedback for Single Image
Deraining").

Our implementation of the released architecture (LI-Hao-SJTU/DerainRLNet, ``derain/models/
derain_dense_relu_test.py`` ``Dense_rainall()`` for inference, ``derain_dense_relu.py`` for training).
The network predicts the rain layer R; the derained image is ``x - R``:

1. A 1x1 conv to 24 channels and three densely connected encoders of 3 levels (dense blocks with 3x3,
   5x5 and 7x7 kernels: ``dense0``, ``dense1``, ``dense2``; group norm, LeakyReLU 0.2, transition blocks
   with squeeze-excitation of 6 hidden units, average pooling).
2. Two dense U-Nets (``res33`` at 1/2, ``res44`` at 1/4 scale) estimate the rain at those scales from
   the three encoders' features; their estimates join each decoder (``dense00``, ``dense11``,
   ``dense22``) three times over.
3. A tower estimates the half-scale rain ``h_b``; a third dense U-Net (``res1``) its confidence
   ``h_d`` in (0, 1), which corrects it, ``h_e = relu(h_b - (0.05 / h_d - 0.05) (1 - 2 h_b))``.
4. The full-resolution decoder features, the upsampled ``h_e`` (six copies), a 4-level pyramid pooling
   (32, 16, 8, 4) and a gated context-aggregation head (``gconv``) give R.

The **feedback branch** (``res3``, ``res4``: 189,970 of the 5,822,137 parameters) only runs in
training, on the *true* rain layer: ``k = 0.15 * res(avgpool(R_true))``, a corrected target
``y = R_true_s + 0.15 * k * R_true_s`` for the 1/2 and 1/4 scale estimates. So ``forward(x, target=)``
takes the clean target in training (the trainer passes it to models with ``trains_with_target``); then it
returns :class:`DerainRLNetTraining` for the ``derainrlnet`` loss. Otherwise (eval, or no target)
``forward(x)``: x (B, 3, H, W) RGB in [0, 1] -> the derained (B, 3, H, W) image ``x - R``, not clamped.

The pooling levels need H, W multiples of 32 (the issue's "8" is not enough: 48 x 48 fails in the
release); ours reflect-pads inside and crops back. The release's test file prints ``h_d`` inside
``forward``; ours does not. Module names are the release's; its state dicts (``DataParallel``, the
``module.`` prefix stripped by the loader) load as they are.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import same_layout

MULTIPLE = 32  # the 1/4-scale dense U-Net pools three more times


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class SEBlock(nn.Module):
    """Squeeze-excitation with ``hidden`` units (LeakyReLU 0.2 inside)."""

    def __init__(self, channels: int, hidden: int = 6):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.LeakyReLU(0.2, inplace=True),
                                nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class BottleneckBlock(nn.Module):
    """Dense block: [x, lrelu(gn(conv_k(lrelu(gn(conv3(x))))))]; 4 * out channels in the middle."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3):
        super().__init__()
        inter = cout * 4
        self.conv1 = nn.Conv2d(cin, inter, 3, 1, 1)
        self.bn1 = nn.GroupNorm(cout, inter)
        self.conv2 = nn.Conv2d(inter, cout, kernel_size, 1, kernel_size // 2)
        self.bn2 = nn.GroupNorm(cout // 4, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _lrelu(self.bn1(self.conv1(x)))
        return torch.cat([x, _lrelu(self.bn2(self.conv2(y)))], 1)


class TransitionBlock(nn.Module):
    """SE(lrelu(gn(conv3(x)))) to ``cout`` channels."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn1 = nn.GroupNorm(4, cout)
        self.se = SEBlock(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(_lrelu(self.bn1(self.conv1(x))))


def _stage(module: nn.Module, k: int, x: torch.Tensor) -> torch.Tensor:
    return getattr(module, f"trans_block{k}")(getattr(module, f"dense_block{k}")(x))


class DenseEncoder(nn.Module):
    """``Dense_base_down0/1/2``: three dense levels (24 channels, kernel 3 / 5 / 7), pooling after each.
    Returns (level-1 features, level 2, level 3, level 3 pooled): sizes H, H/2, H/4, H/8."""

    def __init__(self, kernel_size: int):
        super().__init__()
        for k in (1, 2, 3):
            setattr(self, f"dense_block{k}", BottleneckBlock(24, 24, kernel_size))
            setattr(self, f"trans_block{k}", TransitionBlock(48, 24))

    def forward(self, x: torch.Tensor):
        x1 = _stage(self, 1, x)
        x2 = _stage(self, 2, F.avg_pool2d(x1, 2))
        x3 = _stage(self, 3, F.avg_pool2d(x2, 2))
        return x1, x2, x3, F.avg_pool2d(x3, 2)


class DenseDecoder(nn.Module):
    """``Dense_base_down00/11/22``: up from 1/8 with nearest x2 and concatenation of the skips (33
    channels at 1/4 and 1/2: 24 encoder + 3 x 3 rain estimates; 24 at full). Returns (1/2, full)."""

    def __init__(self, kernel_size: int):
        super().__init__()
        self.dense_block4, self.trans_block4 = BottleneckBlock(24, 24, kernel_size), TransitionBlock(48, 24)
        self.dense_block5, self.trans_block5 = BottleneckBlock(57, 24, kernel_size), TransitionBlock(81, 24)
        self.dense_block6, self.trans_block6 = BottleneckBlock(57, 24, kernel_size), TransitionBlock(81, 24)

    def forward(self, x: torch.Tensor, full: torch.Tensor, half: torch.Tensor, quarter: torch.Tensor):
        x4 = torch.cat([_up2(_stage(self, 4, x)), quarter], 1)
        x5 = torch.cat([_up2(_stage(self, 5, x4)), half], 1)
        x6 = torch.cat([_up2(_stage(self, 6, x5)), full], 1)
        return x5, x6


class DenseUNet(nn.Module):
    """``conf0`` / ``conf1``: a dense U-Net of 32 channels (3 poolings, 3 nearest upsamplings with skips)
    and ``tail`` more dense stages, then a 3x3 conv to 3 channels and ``activation``."""

    def __init__(self, cin: int, tail: int, activation):
        super().__init__()
        self.tail, self.activation = tail, activation
        self.conv1 = nn.Conv2d(cin, 32, 3, 1, 1)
        self.norm = nn.GroupNorm(8, 32)
        for k in range(1, 8 + tail):
            wide = k in (5, 6, 7)  # after a concatenation: 64 channels in
            setattr(self, f"dense_block{k}", BottleneckBlock(64 if wide else 32, 32))
            setattr(self, f"trans_block{k}", TransitionBlock(96 if wide else 64, 32))
        self.refine3 = nn.Conv2d(32, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = _stage(self, 1, _lrelu(self.norm(self.conv1(x))))
        x2 = _stage(self, 2, F.avg_pool2d(x1, 2))
        x3 = _stage(self, 3, F.avg_pool2d(x2, 2))
        y = _stage(self, 4, F.avg_pool2d(x3, 2))
        y = _stage(self, 5, torch.cat([_up2(y), x3], 1))
        y = _stage(self, 6, torch.cat([_up2(y), x2], 1))
        y = _stage(self, 7, torch.cat([_up2(y), x1], 1))
        for k in range(8, 8 + self.tail):
            y = _stage(self, k, y)
        return self.activation(self.refine3(y))


class FeedbackNet(nn.Module):
    """``conf`` (the training-only ``res3`` / ``res4``): conv, one dense stage, a conv to 3, sigmoid."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 1, 1)
        self.norm = nn.GroupNorm(8, 32)
        self.conv2 = BottleneckBlock(32, 32)
        self.trans_block2 = TransitionBlock(64, 32)
        self.refine3 = nn.Conv2d(32, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.trans_block2(self.conv2(_lrelu(self.norm(self.conv1(x)))))
        return torch.sigmoid(self.refine3(y))


class Tower(nn.Module):
    """``tower``: the half-scale rain estimate from the three decoders (171 channels), 5 dense stages."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(171, 32, 3, 1, 1)
        self.norm = nn.GroupNorm(8, 32)
        for k in range(2, 7):
            setattr(self, f"conv{k}", BottleneckBlock(32, 32))
            setattr(self, f"trans_block{k}", TransitionBlock(64, 32))
        self.refine3 = nn.Conv2d(32, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _lrelu(self.norm(self.conv1(x)))
        for k in range(2, 7):
            y = getattr(self, f"trans_block{k}")(getattr(self, f"conv{k}")(y))
        return _lrelu(self.refine3(y))


class ResidualBlock(nn.Module):
    """lrelu(gn(conv3(x)) + x), 32 channels."""

    def __init__(self, channels: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.norm1 = nn.GroupNorm(8, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _lrelu(self.norm1(self.conv1(x)) + x)


class GatedHead(nn.Module):
    """``GCANet`` as the release uses it: 7 residual blocks on a 40-channel input, the outputs of blocks 1,
    4 and 7 gated into 32 channels, two convs to the 3-channel rain layer (LeakyReLU last). Block 1
    reads the stem's output and feeds only the gate; block 2 reads the stem's output too."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(40, 32, 3, 1, 1)
        for k in range(1, 8):
            setattr(self, f"res{k}", ResidualBlock(32))
        self.gate = nn.Conv2d(96, 32, 3, 1, 1)
        self.deconv1 = nn.Conv2d(32, 16, 3, 1, 1)
        self.deconv2 = nn.Conv2d(16, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _lrelu(self.conv1(x))
        y1 = self.res1(y)
        y = self.res3(self.res2(y))
        y2 = self.res4(y)
        y3 = self.res7(self.res6(self.res5(y2)))
        gates = _lrelu(self.gate(torch.cat([y1, y2, y3], 1)))
        return _lrelu(self.deconv2(_lrelu(self.deconv1(gates))))


class DerainRLNetTraining(NamedTuple):
    """What ``forward(x, target=)`` returns in training (element 0 is the derained image, as always).

    ``clean`` / ``rain`` (B, 3, H, W); the rest on the padded grid: ``x3``, ``y3`` (1/2 scale rain
    estimate of ``res33`` and its feedback-corrected target), ``x4``, ``y4`` (the same at 1/4),
    ``h_b`` (tower's 1/2-scale rain), ``rain_half`` (the true rain, average-pooled to 1/2), ``h_d``
    (confidence), ``k3``, ``k4`` (the feedback maps, kept small by their L2 term)."""

    clean: torch.Tensor
    rain: torch.Tensor
    x3: torch.Tensor
    y3: torch.Tensor
    x4: torch.Tensor
    y4: torch.Tensor
    h_b: torch.Tensor
    rain_half: torch.Tensor
    h_d: torch.Tensor
    k3: torch.Tensor
    k4: torch.Tensor


class DerainRLNet(nn.Module):
    """DerainRLNet's ``Dense_rainall`` (no constructor options: the release has none)."""

    trains_with_target = True

    def __init__(self):
        super().__init__()
        self.dense0, self.dense1, self.dense2 = DenseEncoder(3), DenseEncoder(5), DenseEncoder(7)
        self.dense00, self.dense11, self.dense22 = DenseDecoder(3), DenseDecoder(5), DenseDecoder(7)
        self.gconv = GatedHead()
        for name in ("conv1010", "conv1020", "conv1030", "conv1040"):
            setattr(self, name, nn.Conv2d(36, 1, 1))
        self.tower1 = Tower()
        self.convq1 = nn.Conv2d(3, 24, 1)
        self.convx1 = nn.Conv2d(144, 18, 1)
        self.res1 = DenseUNet(6, tail=3, activation=torch.sigmoid)
        self.res3, self.res4 = FeedbackNet(), FeedbackNet()
        self.res33 = DenseUNet(72, tail=2, activation=_lrelu)
        self.res44 = DenseUNet(72, tail=2, activation=_lrelu)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None):
        check_image_batch(x)
        if target is not None and target.shape != x.shape:
            raise ValueError(f"target {tuple(target.shape)} must have the input's shape {tuple(x.shape)}")
        x, height, width = pad_to_multiple(x, MULTIPLE)
        stem = _lrelu(self.convq1(x))
        a1, a2, a3, a_3 = self.dense0(stem)
        b1, b2, b3, b_3 = self.dense1(stem)
        c1, c2, c3, c_3 = self.dense2(stem)
        x3 = self.res33(torch.cat([a2, b2, c2], 1))  # rain at 1/2
        x4 = self.res44(torch.cat([a3, b3, c3], 1))  # rain at 1/4
        half_a, full_a = self.dense00(a_3, a1, torch.cat([a2, x3, x3, x3], 1), torch.cat([a3, x4, x4, x4], 1))
        half_b, full_b = self.dense11(b_3, b1, torch.cat([b2, x3, x3, x3], 1), torch.cat([b3, x4, x4, x4], 1))
        half_c, full_c = self.dense22(c_3, c1, torch.cat([c2, x3, x3, x3], 1), torch.cat([c3, x4, x4, x4], 1))
        h_b = self.tower1(torch.cat([half_a, half_b, half_c], 1))
        h_d = self.res1(torch.cat([F.avg_pool2d(x, 2), h_b], 1))
        h_e = F.relu(h_b - (0.05 / h_d - 0.05) * (1 - 2 * h_b))
        h_f = _up2(h_e)
        y = torch.cat([_lrelu(self.convx1(torch.cat([full_a, full_b, full_c], 1))), *([h_f] * 6)], 1)
        size = y.shape[-2:]
        pyramid = [F.interpolate(_lrelu(conv(F.avg_pool2d(y, k))), size=size, mode="nearest")
                   for conv, k in ((self.conv1010, 32), (self.conv1020, 16), (self.conv1030, 8), (self.conv1040, 4))]
        rain = self.gconv(torch.cat([*pyramid, y], 1))
        clean = (x - rain)[:, :, :height, :width]
        if not (self.training and target is not None):
            return clean
        true_rain = x - pad_to_multiple(target, MULTIPLE)[0]
        y3, y4 = F.avg_pool2d(true_rain, 2), F.avg_pool2d(true_rain, 4)
        k3, k4 = 0.15 * self.res3(y3), 0.15 * self.res4(y4)
        return DerainRLNetTraining(clean, rain[:, :, :height, :width], x3, y3 + 0.15 * k3 * y3, x4,
                                   y4 + 0.15 * k4 * y4, h_b, y3, h_d, k3, k4)



# Released weights load as they are: the release's ``Dense_rainall`` state dict, ``module.`` stripped by the loader.
@register_model("derainrlnet", tasks=("deraining",), paper="DerainRLNet (Chen and Li, CVPR 2021)",
                summary="multi-scale dense encoders, rain estimates at 1/2 and 1/4, confidence, "
                        "training-only feedback (189,970 of the parameters)",
                release=("LI-Hao-SJTU/DerainRLNet", "derain/models/derain_dense_relu_test.py"),
                published_params="5,822,137", default_loss="derainrlnet", converter=same_layout)
def derainrlnet(**kwargs) -> nn.Module:
    return DerainRLNet(**kwargs)
