"""RmNet (Wen et al., CVPR 2019), "Single Image Reflection Removal Beyond Linearity": the removal network.

Our implementation of ``ReflRmNetwork(3, 3, ngf=64)`` of the authors' release
(csqiangwen/Single-Image-Reflection-Removal-Beyond-Linearity, ``Removal/model/networks.py``), in the
configuration its options select: instance normalisation without affine parameters (so every
convolution has a bias), no dropout. One pix2pix-style encoder and three decoders sharing its skips:

- **encoder**: six 4x4 stride-2 convolutions, 64 -> 128 -> 256 -> 512 -> 512 -> 512 channels
  (LeakyReLU 0.2 before each but the first, instance norm after each but the first and the innermost);
- **decoders** T (transmission, ``back`` in the release's names), R (reflection) and W (the per-pixel,
  per-channel mixing map of the non-linear model ``I = T * (1 - W) + R * W``): six 4x4 stride-2
  transposed convolutions (ReLU before each), concatenating the encoder feature of the same scale; T
  and R end in tanh, W in a 3-channel sigmoid.

Where a decoder's feature is smaller than the skip it joins (odd sizes), the release zero-pads it on
the left and top; we do the same. Since six halvings need it anyway, ``forward`` first pads the image
(reflection) to a multiple of ``pad_multiple`` (64) and crops the outputs back; ``pad_multiple=2``
reproduces the release on any even size.

The release works on [-1, 1] images; ours maps [0, 1] in and out inside ``forward``.
``forward(x)``: (B, 3, H, W) in [0, 1] -> :class:`RmNetOutput` ``(transmission, reflection, mix,
recomposition)``, each (B, 3, H, W): T and R in [0, 1], W in [0, 1], and the recomposition
``T (1 - W) + R W`` of the release's loss (computed, as there, on the [-1, 1] layers and mapped back),
which :class:`uhr4k.models.losses.reflection.RmNetLoss` compares with the input.

Parameters: 65,432,841 (the paper's Table I: 65.43 M).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model

LEVELS = ("0", "1", "2", "3", "4", "inner")          # encoder / decoder depths, outermost first
DECODERS = ("back", "refl", "W")                      # transmission, reflection, mixing map


class RmNetOutput(NamedTuple):
    transmission: torch.Tensor
    reflection: torch.Tensor
    mix: torch.Tensor
    recomposition: torch.Tensor


class Block(nn.Module):
    """One encoder or decoder step, ``self.model`` a Sequential laid out as in the release
    (``[activation,] conv[, norm or output activation]``)."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _down(cin: int, cout: int, position: str) -> nn.Sequential:
    conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1)   # bias: instance norm has no affine shift
    if position == "outermost":
        layers = [conv]
    elif position == "innermost":
        layers = [nn.LeakyReLU(0.2), conv]
    else:
        layers = [nn.LeakyReLU(0.2), conv, nn.InstanceNorm2d(cout)]
    return nn.Sequential(Block(layers))


def _up(cin: int, cout: int, last: nn.Module | None = None) -> nn.Sequential:
    conv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
    return nn.Sequential(Block([nn.ReLU(), conv, last if last is not None else nn.InstanceNorm2d(cout)]))


class RmNet(nn.Module):
    """Wen et al.'s reflection removal network (see the module docstring).

    Args:
        ngf: channels after the first convolution (release 64).
        pad_multiple: ``forward`` pads H and W to this multiple (64: no decoder ever pads; 2: the
            release's own behaviour on even sizes).
    """

    def __init__(self, ngf: int = 64, pad_multiple: int = 64):
        super().__init__()
        self.pad_multiple = pad_multiple
        widths = (ngf, ngf * 2, ngf * 4, ngf * 8, ngf * 8, ngf * 8)
        cin = 3
        for i, (level, cout) in enumerate(zip(LEVELS, widths, strict=True)):
            position = "outermost" if i == 0 else "innermost" if level == "inner" else "middle"
            setattr(self, f"model_d_{level}", _down(cin, cout, position))
            cin = cout
        for name in DECODERS:
            # Decoder at depth k outputs the width of encoder depth k-1 and reads [skip, decoded].
            setattr(self, f"model_u_inner_{name}", _up(ngf * 8, ngf * 8))
            for k in (4, 3, 2, 1):
                setattr(self, f"model_u_{k}_{name}", _up(2 * widths[k], widths[k - 1]))
            last = nn.Sigmoid() if name == "W" else nn.Tanh()
            setattr(self, f"model_u_0_{name}", _up(2 * widths[0], 3, last))

    def _decode(self, name: str, skips: list[torch.Tensor]) -> torch.Tensor:
        y = getattr(self, f"model_u_inner_{name}")(skips[-1])
        for k in (4, 3, 2, 1, 0):
            skip = skips[k]
            # The release zero-pads on the left/top when the decoded map is smaller than the skip.
            y = F.pad(y, (skip.shape[3] - y.shape[3], 0, skip.shape[2] - y.shape[2], 0))
            y = getattr(self, f"model_u_{k}_{name}")(torch.cat([skip, y], 1))
        return y

    def forward(self, x: torch.Tensor) -> RmNetOutput:
        check_image_batch(x)
        padded, h, w = pad_to_multiple(x, self.pad_multiple)
        y = padded * 2 - 1                                      # the release's [-1, 1]
        skips = []
        for level in LEVELS:
            y = getattr(self, f"model_d_{level}")(y)
            skips.append(y)
        t, r, mix = (self._decode(name, skips) for name in DECODERS)
        recomposed = t * (1 - mix) + r * mix

        def crop(z):
            return z[..., :h, :w]
        return RmNetOutput(crop((t + 1) / 2), crop((r + 1) / 2), crop(mix), crop((recomposed + 1) / 2))


def convert_release(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The release's ``netG`` state dict (``{epoch}_net_G.pth``) -> ours: the same keys (we keep the
    release's module names, ``model_d_0.0.model.0.weight`` ...); a ``module.`` prefix left by
    DataParallel is dropped."""
    return {k.removeprefix("module."): v for k, v in state_dict.items()}


@register_model("rmnet", tasks=("reflection",), paper="RmNet (Wen et al., CVPR 2019)",
                summary="reflection removal beyond linearity: one encoder, decoders T, R, W",
                release=("csqiangwen/Single-Image-Reflection-Removal-Beyond-Linearity", "Removal/model/networks.py"),
                published_params="65.43 M", default_loss="rmnet", recipe="rmnet", converter=convert_release)
def rmnet(**kwargs) -> nn.Module:
    return RmNet(**kwargs)
