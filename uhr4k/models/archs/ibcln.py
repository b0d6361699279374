"""IBCLN (Li et al., CVPR 2020), "Single Image Reflection Removal through Cascaded Refinement".

Our implementation of the release (JHL-HUST/IBCLN, ``models/networks.py`` ``Generator_drop`` and the
cascade of ``models/IBCLN_model.py``): two generators ``Generator_drop(9, 3, 64)``, ``G_T`` for the
transmission and ``G_R`` for the reflection, run alternately for three iterations.

**Generator** (input: the image, the previous T and the previous R, 9 channels): a 5x5 conv to 64
channels; two stride-2 3x3 convs to 128 and 256 channels with 3x3 convs between; four dilated 3x3
convs (dilation 2, 4, 8, 16) and one more 3x3 conv at H/4; a **convolutional LSTM** at H/4 whose four
gates are 3x3 convs over [features, h] (512 -> 256 channels each; input, forget and output gates
sigmoid, candidate tanh; ``c = f c + i g``, ``h = o tanh(c)``); then a 3x3 conv, and two upsamplings
(4x4 stride-2 transposed conv, reflection pad on the top/left, 2x2 stride-1 average pool, ReLU) each
added to the encoder feature of its scale, with a 3x3 conv between (``conv9``: ReLU then Dropout(0.3),
identity in eval); a 3x3 conv to 32 channels and the output 3x3 conv, ReLU (so >= 0). Side outputs: a
3-channel image at H/4 (``outframe1``) and at H/2 (``outframe2``), for the multi-scale perceptual loss.

**Cascade**: ``T_0 = I``, ``R_0 = 0.1``, LSTM states zero at H/4; for k = 1, 2, 3:
``T_k = G_T(I, T_{k-1}, R_{k-1})``, then ``R_k = G_R(I, T_k, R_{k-1})``, each generator carrying its own
LSTM state. In eval mode every T_k and R_k is clamped to [0, 1], as the release does at test time.

Sizes: the two stride-2 convs and the additive skips need multiples of 4: ``forward`` pads
(reflection) and crops back. [0, 1] in and out, as released (no normalisation).

``forward(x)``: (B, 3, H, W) -> :class:`IBCLNOutput` ``(transmission, reflection, transmission_1,
transmission_2, reflection_1, reflection_2, transmission_half, transmission_quarter, reflection_half,
reflection_quarter)``: T_3 and R_3 first, then the earlier iterations, then the last side outputs of G_T
and G_R at H/2 and H/4 (rounded up). The release's loss reads G_T's; G_R's it computes and never uses
(its 4 tensors, counted in the parameters, get no gradient from the published loss).

Parameters: 21,608,338 = 2 x 10,804,169 (the paper's Table I: 21.61 M).

The release saves each generator in its own file (``{epoch}_net_G_T.pth``, ``{epoch}_net_G_R.pth``):
``create_model("ibcln", pretrained=FOLDER)`` with the folder holding them, or
``pretrained=release_weights(T_FILE, R_FILE)``.
"""
from __future__ import annotations

import os
import re
from typing import NamedTuple

import torch
from torch import nn

from uhr4k.core.errors import InputError
from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import is_several_files, register_model
from uhr4k.models.weights.read import Weights, read_weights

ITERATIONS = 3


class IBCLNOutput(NamedTuple):
    transmission: torch.Tensor
    reflection: torch.Tensor
    transmission_1: torch.Tensor
    transmission_2: torch.Tensor
    reflection_1: torch.Tensor
    reflection_2: torch.Tensor
    transmission_half: torch.Tensor
    transmission_quarter: torch.Tensor
    reflection_half: torch.Tensor
    reflection_quarter: torch.Tensor

    def transmissions(self) -> list[torch.Tensor]:
        """T_1, T_2, T_3."""
        return [self.transmission_1, self.transmission_2, self.transmission]

    def reflections(self) -> list[torch.Tensor]:
        """R_1, R_2, R_3."""
        return [self.reflection_1, self.reflection_2, self.reflection]


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, act: nn.Module | None = None):
    """A zero-padded 'same' conv followed by ``act`` (ReLU unless given), as one Sequential."""
    padding = dilation * (k - 1) // 2
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding, dilation=dilation),
                         act if act is not None else nn.ReLU())


def _upsample(cin: int, cout: int) -> nn.Sequential:
    """x2: transposed conv, then reflection pad top/left and a 2x2 stride-1 mean (a smoothing that
    keeps the size), ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReflectionPad2d((1, 0, 1, 0)),
                         nn.AvgPool2d(2, stride=1), nn.ReLU())


class Generator(nn.Module):
    """The release's ``Generator_drop(in_channels, out_channels, n_feats=64)`` (module names kept). The
    release writes the widths 64 / 128 / 256 out and uses ``n_feats`` only for the LSTM, which fits only
    at 64; here every width follows ``n_feats`` (identical at 64; smaller ones for fast tests)."""

    def __init__(self, in_channels: int = 9, out_channels: int = 3, n_feats: int = 64):
        super().__init__()
        c1, c2, c3 = n_feats, 2 * n_feats, 4 * n_feats     # the release: 64, 128, 256 (n_feats = 64)
        self.conv1 = _conv(in_channels, c1, 5)
        self.conv2 = _conv(c1, c2, stride=2)
        self.conv3 = _conv(c2, c2)
        self.conv4 = _conv(c2, c3, stride=2)
        self.conv5 = _conv(c3, c3)
        self.conv6 = _conv(c3, c3)
        self.diconv1 = _conv(c3, c3, dilation=2)
        self.diconv2 = _conv(c3, c3, dilation=4)
        self.diconv3 = _conv(c3, c3, dilation=8)
        self.diconv4 = _conv(c3, c3, dilation=16)
        self.conv7 = _conv(c3, c3)
        # ConvLSTM gates over [features, h]: (8 n_feats) -> (4 n_feats) channels each.
        self.conv_i = _conv(2 * c3, c3, act=nn.Sigmoid())
        self.conv_f = _conv(2 * c3, c3, act=nn.Sigmoid())
        self.conv_g = _conv(2 * c3, c3, act=nn.Tanh())
        self.conv_o = _conv(2 * c3, c3, act=nn.Sigmoid())
        self.conv8 = _conv(c3, c3)
        self.deconv1 = _upsample(c3, c2)
        self.conv9 = nn.Sequential(nn.Conv2d(c2, c2, 3, 1, 1), nn.ReLU(), nn.Dropout(0.3))
        self.deconv2 = _upsample(c2, c1)
        self.conv10 = _conv(c1, c1 // 2)
        self.outframe1 = _conv(c3, 3)
        self.outframe2 = _conv(c2, 3)
        self.output = _conv(c1 // 2, out_channels)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        """(B, 9, H, W), LSTM state h, c (B, 256, H/4, W/4) -> (image (B, 3, H, W), h, c,
        side output at H/2, side output at H/4)."""
        res1 = x = self.conv1(x)
        res2 = x = self.conv3(self.conv2(x))
        x = self.conv6(self.conv5(self.conv4(x)))
        x = self.diconv4(self.diconv3(self.diconv2(self.diconv1(x))))
        x = torch.cat([self.conv7(x), h], 1)
        i, f, g, o = self.conv_i(x), self.conv_f(x), self.conv_g(x), self.conv_o(x)
        c = f * c + i * g
        h = o * torch.tanh(c)
        x = self.conv8(h)
        quarter = self.outframe1(x)
        x = self.conv9(self.deconv1(x) + res2)
        half = self.outframe2(x)
        x = self.conv10(self.deconv2(x) + res1)
        return self.output(x), h, c, half, quarter


class IBCLN(nn.Module):
    """The iterative boost convolutional LSTM network (see the module docstring).

    Args:
        n_feats: generator width (release 64: 64 / 128 / 256 channels, a 256-channel LSTM).
    """

    def __init__(self, n_feats: int = 64):
        super().__init__()
        self.lstm_channels = 4 * n_feats
        self.G_T = Generator(9, 3, n_feats)
        self.G_R = Generator(9, 3, n_feats)

    def forward(self, x: torch.Tensor) -> IBCLNOutput:
        check_image_batch(x)
        image, h, w = pad_to_multiple(x, 4)
        b, _, hp, wp = image.shape
        state = image.new_zeros(b, self.lstm_channels, hp // 4, wp // 4)
        t_h, t_c, r_h, r_c = state, state, state, state
        t, r = image, torch.full_like(image, 0.1)
        ts, rs = [], []
        for _ in range(ITERATIONS):
            t, t_h, t_c, half, quarter = self.G_T(torch.cat([image, t, r], 1), t_h, t_c)
            r, r_h, r_c, r_half, r_quarter = self.G_R(torch.cat([image, t, r], 1), r_h, r_c)
            ts.append(t)
            rs.append(r)
        if not self.training:   # the release's test-time clip
            ts = [v.clamp(0, 1) for v in ts]
            rs = [v.clamp(0, 1) for v in rs]

        def crop(z, scale=1):   # to the input size (side outputs: divided by ``scale``, rounded up)
            return z[..., :(h + scale - 1) // scale, :(w + scale - 1) // scale]
        (t1, t2, t3), (r1, r2, r3) = [crop(v) for v in ts], [crop(v) for v in rs]
        return IBCLNOutput(t3, r3, t1, t2, r1, r2, crop(half, 2), crop(quarter, 4), crop(r_half, 2),
                           crop(r_quarter, 4))


def _generator_of(name: str) -> str | None:
    match = re.search(r"G_([TR])(?![A-Za-z])", name)
    return f"G_{match.group(1)}" if match else None


def convert_release(state: dict) -> dict[str, torch.Tensor]:
    """IBCLN's two generator files -> ours (``G_T.conv1.0.weight``, ... ``G_R.output.0.bias``).

    ``state`` is what the loader hands over for a folder of several files, ``{file name: state dict}``:
    the file whose name holds ``G_T`` (the release's ``{epoch}_net_G_T.pth``) becomes ``G_T.*``, the
    ``G_R`` one ``G_R.*``, keys otherwise unchanged (our generator keeps the release's names); a
    discriminator file (``net_D``) beside them is ignored. A single state dict already prefixed
    ``G_T.`` / ``G_R.`` (or the release model's ``netG_T.`` / ``netG_R.``) is accepted too.
    """
    if is_several_files(state):
        picked: dict[str, dict] = {}
        for file_name, sub in state.items():
            generator = _generator_of(file_name)
            if generator is None:
                continue
            if generator in picked:
                raise InputError(f"two files for {generator} ({file_name} and another): keep one epoch's pair")
            picked[generator] = sub
        missing = [g for g in ("G_T", "G_R") if g not in picked]
        if missing:
            raise InputError(f"IBCLN needs the two generator files ..._net_G_T.pth and ..._net_G_R.pth; "
                             f"no {' or '.join(missing)} among {', '.join(sorted(state))}")
        return {f"{g}.{k}": v for g in ("G_T", "G_R") for k, v in picked[g].items()}
    out = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        generator = {"G_T": "G_T", "G_R": "G_R", "netG_T": "G_T", "netG_R": "G_R"}.get(head)
        if generator is None:
            raise InputError("one IBCLN generator file alone: give the folder holding both "
                             "..._net_G_T.pth and ..._net_G_R.pth")
        out[f"{generator}.{rest}"] = value
    return out


def release_weights(t_file: str | os.PathLike, r_file: str | os.PathLike):
    """The two generator files of the release as one :class:`uhr4k.models.weights.read.Weights`, for
    ``create_model("ibcln", pretrained=release_weights(T_FILE, R_FILE))`` when they are not alone in a
    folder. Raises InputError (naming the file) for unreadable files."""
    from pathlib import Path

    state = {"net_G_T.pth": read_weights(t_file).state, "net_G_R.pth": read_weights(r_file).state}
    return Weights(state, None, Path(t_file).parent)


@register_model("ibcln", tasks=("reflection",), paper="IBCLN (Li et al., CVPR 2020)",
                summary="two ConvLSTM generators, 3 cascaded iterations",
                release=("JHL-HUST/IBCLN", "models/networks.py"), published_params="21.61 M", default_loss="ibcln",
                converter=convert_release)
def ibcln(**kwargs) -> nn.Module:
    return IBCLN(**kwargs)
