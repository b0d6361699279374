"""VRGNet's deraining network (Wang et al., CVPR 2021, "From Rain Generation to Rain Removal").

Our implementation of the released deraining network BNet (hongwang01/VRGNet, ``for_syn/prenet.py``,
built as ``Derain(6)``): a PReNet with 32 channels whose recurrence runs six times with shared weights.
Stages 1-5 are PReNet's (input concatenated with the previous estimate, a convolutional LSTM, five
residual blocks, a 3-channel residual added to the input); the sixth runs the same trunk but ends in a
second head, ``convfinal`` (32 -> 6 channels), whose first three channels plus the input are the mean
``mu_b`` of the clean image and whose last three are its log-variance ``logvar_b``. The released test
script outputs ``clamp(mu_b, 0, 1)``.

``forward(x)``: x (B, 3, H, W) RGB in [0, 1] -> ``(clamp(mu_b, 0, 1), mu_b, logvar_b)``, each
(B, 3, H, W). Fully convolutional at stride 1: any H, W, no padding. The release builds its LSTM state
with ``.cuda()``; ours is created on the input's device and dtype.

Registered configuration ``vrgnet``: 170,697 parameters. Module names are the release's, so its
state dicts (``derainet.conv0.0.weight``, ...) load after dropping the ``derainet.`` prefix of the
``Derain`` wrapper (:func:`convert_release`).

Training (default loss ``gaussian_kl``): the release trains BNet jointly with a rain generator
(EDNet: an encoder of rain factors and a decoder) and a WGAN-GP critic; BNet's own term is the KL
divergence between N(mu_b, exp(logvar_b)) and the prior N(target, eps^2) with eps^2 = 1e-6, logvar_b
clamped to [log 1e-8, log 1e4]. We train BNet alone with that term: the generative part (EDNet, the
critic, and the adversarial gradient BNet receives through the generated rainy image) is out of scope.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch
from uhr4k.models.registry import StateDict, register_model

RELEASE_PREFIX = "derainet."


def _conv(cin: int, cout: int, *activation: nn.Module) -> nn.Sequential:
    """A 3x3 conv (and its activation) in a Sequential, as the release wraps every conv."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), *activation)


def _res_block(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
                         nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU())


class VRGNetDerain(nn.Module):
    """VRGNet's BNet: a 6-iteration PReNet whose last iteration predicts (mu_b, logvar_b).

    Args:
        iterations: recurrent iterations in all (the release: 6); the last one gives mu_b, logvar_b.
        channels: feature channels (the release: 32).
    """

    def __init__(self, iterations: int = 6, channels: int = 32):
        super().__init__()
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        self.iterations, self.channels = iterations, channels
        self.conv0 = _conv(6, channels, nn.ReLU())
        for k in range(1, 6):
            setattr(self, f"res_conv{k}", _res_block(channels))
        self.conv_i = _conv(2 * channels, channels, nn.Sigmoid())
        self.conv_f = _conv(2 * channels, channels, nn.Sigmoid())
        self.conv_g = _conv(2 * channels, channels, nn.Tanh())
        self.conv_o = _conv(2 * channels, channels, nn.Sigmoid())
        self.conv = _conv(channels, 3)             # stages 1 .. iterations-1: the rain-free residual
        self.convfinal = _conv(channels, 6)        # last stage: residual of mu_b (3) and logvar_b (3)

    def _trunk(self, x: torch.Tensor, estimate: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        y = self.conv0(torch.cat([x, estimate], 1))
        yh = torch.cat([y, h], 1)
        c = self.conv_f(yh) * c + self.conv_i(yh) * self.conv_g(yh)
        h = self.conv_o(yh) * torch.tanh(c)
        y = h
        for k in range(1, 6):
            y = F.relu(getattr(self, f"res_conv{k}")(y) + y)
        return y, h, c

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        check_image_batch(x)
        b, _, height, width = x.shape
        h = x.new_zeros(b, self.channels, height, width)
        c = x.new_zeros(b, self.channels, height, width)
        estimate = x
        for _ in range(self.iterations - 1):
            y, h, c = self._trunk(x, estimate, h, c)
            estimate = self.conv(y) + x
        y, _, _ = self._trunk(x, estimate, h, c)
        y = self.convfinal(y)
        mu_b, logvar_b = y[:, :3] + x, y[:, 3:]
        return mu_b.clamp(0, 1), mu_b, logvar_b


def convert_release(state: StateDict) -> StateDict:
    """The release's ``Derain`` state dict (``derainet.*`` keys) -> ours: the prefix dropped.

    A bare ``PReNet`` state dict (no prefix) passes unchanged.
    """
    return {k.removeprefix(RELEASE_PREFIX): v for k, v in state.items()}


@register_model("vrgnet", tasks=("deraining",), paper="VRGNet (Wang et al., CVPR 2021)",
                summary="its deraining network BNet: a 6-iteration PReNet giving mu and log-variance",
                release=("hongwang01/VRGNet", "for_syn/prenet.py"), published_params="170,697",
                default_loss="gaussian_kl", recipe="vrgnet", converter=convert_release)
def vrgnet(**kwargs) -> nn.Module:
    return VRGNetDerain(**kwargs)
