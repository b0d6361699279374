"""RESCAN (Li et al., ECCV 2018): recurrent squeeze-and-excitation context aggregation net for deraining.

Our implementation of the released architecture (XiaLiPKU/RESCAN, ``config/model.py`` with
``config/settings.py``: channel 24, stage_num 4, depth 7, SE blocks). Each of the 4 stages runs a
context-aggregation stack of ``depth - 2`` = 5 recurrent units (3x3 convolutions with dilations 1, 1, 2,
4, 8 on the input side, an undilated 3x3 on the previous stage's state, a squeeze-and-excitation gate and
LeakyReLU 0.2) and a decoder (3x3 conv, SE, LeakyReLU, 1x1 conv to 3 channels) that predicts the rain
layer. The next stage sees the input minus that estimate. The recurrent unit is a plain convolutional
RNN (``unit="RNN"``, the settings of the ECCV release commit) or a convolutional GRU (``unit="GRU"``, the
later settings and the variant whose Rain100H figures the README reports). ``frame="Add"``: each stage
predicts a correction added to the previous stage's (detached) rain estimate; ``"Full"``: each stage
predicts the whole rain layer.

The SE block's hidden width is the ``reduction`` argument itself (6), not ``channels / reduction``: that
is what the release builds (it computes ``channels / reduction`` and does not use it).

The release reads images with OpenCV (BGR) and predicts the rain residual; ours takes RGB and reverses
the channels inside. ``forward(x)``: x (B, 3, H, W) RGB in [0, 1] -> ``(final, stage_1, ..., stage_3)``,
the derained image ``x - rain`` after each stage (not clamped), each (B, 3, H, W). Stride 1 throughout:
any H, W, no padding (the SE gates average over the whole image, so tiles do not equal the whole).

Registered: ``rescan`` (RNN units, ``Add``; 54,735 parameters) and ``rescan-gru`` (GRU units, ``Full``;
149,823). Module names are the release's; its checkpoints (``{"net": state_dict, "opt", "clock"}``,
unwrapped by the loader) load as they are. Trained with ``mse_stages``: the sum over stages of the MSE
between predicted and true rain layers, which equals the MSE between each stage's image and the target.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.registry import register_model
from uhr4k.models.weights.keys import same_layout

SE_HIDDEN = 6  # the release's ``reduction`` argument, used as the hidden width


class SEBlock(nn.Module):
    """Squeeze-and-excitation: x * sigmoid(fc(relu(fc(global mean of x)))); (B, C, H, W) -> same."""

    def __init__(self, channels: int, hidden: int = SE_HIDDEN):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class ConvRNN(nn.Module):
    """h = lrelu(SE(tanh(conv_x(x) + conv_h(h_prev)))); the first stage has no h_prev."""

    def __init__(self, cin: int, cout: int, dilation: int):
        super().__init__()
        self.conv_x = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.conv_h = nn.Conv2d(cout, cout, 3, padding=1)
        self.se = SEBlock(cout)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        h = torch.tanh(self.conv_x(x) if h is None else self.conv_x(x) + self.conv_h(h))
        return F.leaky_relu(self.se(h), 0.2)


class ConvGRU(nn.Module):
    """Convolutional GRU (update z, reset r, candidate n); the first stage is h = z * n without a state."""

    def __init__(self, cin: int, cout: int, dilation: int):
        super().__init__()
        def xconv():
            return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.conv_xz, self.conv_xr, self.conv_xn = xconv(), xconv(), xconv()
        self.conv_hz, self.conv_hr, self.conv_hn = (nn.Conv2d(cout, cout, 3, padding=1) for _ in range(3))
        self.se = SEBlock(cout)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        if h is None:
            h = torch.sigmoid(self.conv_xz(x)) * torch.tanh(self.conv_xn(x))
        else:
            z = torch.sigmoid(self.conv_xz(x) + self.conv_hz(h))
            r = torch.sigmoid(self.conv_xr(x) + self.conv_hr(h))
            n = torch.tanh(self.conv_xn(x) + self.conv_hn(r * h))
            h = (1 - z) * h + z * n
        return F.leaky_relu(self.se(h), 0.2)


UNITS = {"RNN": ConvRNN, "GRU": ConvGRU}
FRAMES = ("Add", "Full")


class RESCAN(nn.Module):
    """RESCAN. Args: ``unit`` ("RNN" / "GRU"), ``frame`` ("Add" / "Full"), ``channels`` (24),
    ``stages`` (4), ``depth`` (7: ``depth - 2`` recurrent units per stage, dilations 1, 1, 2, 4, ...)."""

    def __init__(self, unit: str = "RNN", frame: str = "Add", channels: int = 24, stages: int = 4, depth: int = 7):
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {sorted(UNITS)}, got {unit!r}")
        if frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
        if stages < 1 or depth < 3:
            raise ValueError(f"need stages >= 1 and depth >= 3, got {stages}, {depth}")
        self.frame, self.stages = frame, stages
        cell = UNITS[unit]
        self.rnns = nn.ModuleList([cell(3, channels, 1)] + [cell(channels, channels, 2 ** i) for i in range(depth - 3)])
        self.dec = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), SEBlock(channels),
                                 nn.LeakyReLU(0.2), nn.Conv2d(channels, 3, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        check_image_batch(x)
        rainy = x.flip(1)  # RGB -> the release's BGR
        states: list[torch.Tensor | None] = [None] * len(self.rnns)
        rain_layers: list[torch.Tensor] = []
        y = rainy
        for stage in range(self.stages):
            for k, rnn in enumerate(self.rnns):
                y = states[k] = rnn(y, states[k])
            rain = self.dec(y)
            if self.frame == "Add" and stage > 0:
                rain = rain + rain_layers[-1].detach()
            rain_layers.append(rain)
            y = rainy - rain
        derained = [(rainy - rain).flip(1) for rain in rain_layers]
        return (derained[-1], *derained[:-1])



# Released weights load as they are: same module names as the release.
@register_model("rescan", tasks=("deraining",), paper="RESCAN (Li et al., ECCV 2018)",
                summary="4 stages of 5 dilated conv-RNN units with SE, `Add` frame (the ECCV release)",
                release=("XiaLiPKU/RESCAN", "config/model.py"), published_params="54,735", default_loss="mse_stages",
                recipe="rescan", converter=same_layout)
def rescan(**kwargs) -> nn.Module:
    return RESCAN(**{"unit": "RNN", "frame": "Add", **kwargs})


@register_model("rescan-gru", tasks=("deraining",), paper="RESCAN (Li et al., ECCV 2018)",
                summary="GRU units, `Full` frame (the later settings, the README's figures)",
                release=("XiaLiPKU/RESCAN", "config/model.py"), published_params="149,823", default_loss="mse_stages",
                recipe="rescan-gru", converter=same_layout)
def rescan_gru(**kwargs) -> nn.Module:
    return RESCAN(**{"unit": "GRU", "frame": "Full", **kwargs})
