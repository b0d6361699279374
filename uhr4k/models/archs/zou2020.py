"""Zou et al. (CVPR 2020), "Deep Adversarial Decomposition: A Unified Framework for Separating Superimposed
Images": the separator, reflection configuration.

Our implementation of the release's generator ``define_G(3, 6, ngf=64, 'unet_512', norm='none')``
(jiupinjia/Deep-adversarial-decomposition, ``cyclegan_networks.py``): the pix2pix U-Net with 9
down-samplings, built recursively as there (module names kept). Each level is a 4x4 stride-2 conv
(LeakyReLU 0.2 before it, except at the outermost level) and a 4x4 stride-2 transposed conv (ReLU
before it) fed the concatenation of the level's input and its inner level's output; widths 64, 128,
256, 512, then 512 down to the 1/512 bottleneck. With ``norm='none'`` the release's normalisation
slots are identities and no convolution has a bias except the outermost transposed conv. No output
activation (the authors removed it). Channels 0-2 are the transmission, 3-5 the reflection.

Sizes: 9 halvings need multiples of 512, and the release's evaluation resizes every image to 512 x 512
(``eval_dereflection.py``, ``TF.resize``). Registered, ``zou2020`` keeps the release's network but,
since a 4K benchmark should not judge a model on a 512 x 512 thumbnail of its input, pads (reflection)
to the next multiple of 512 inside ``forward`` and crops back: a 4K image runs whole as 4096 x 2560.
``resize_to=512`` reproduces the release's evaluation instead (antialiased bilinear to 512 x 512, the
outputs resized back to the input size).

``forward(x)``: (B, 3, H, W) in [0, 1] -> :class:`Zou2020Output` ``(transmission, reflection)``, each
(B, 3, H, W), unbounded as released (``uhr4k bench`` clips to [0, 1], as the release's evaluation does).

Parameters: 66,993,158 (the release's generator; its three discriminators are not part of the model).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from uhr4k.models.archs.image_batch import check_image_batch, pad_to_multiple
from uhr4k.models.registry import register_model


class Zou2020Output(NamedTuple):
    transmission: torch.Tensor
    reflection: torch.Tensor


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: ``[x, up(inner(down(x)))]`` (the outermost level returns ``up(...)`` alone).

    ``self.model`` is laid out as the release's Sequential; the identities stand where ``norm='none'``
    puts its normalisation layers, so that the indices (and state-dict keys) are the release's.
    """

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        down = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=False)
        if outermost:
            up = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)   # the one bias
            layers = [down, submodule, nn.ReLU(), up]
        elif innermost:
            up = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=False)
            layers = [nn.LeakyReLU(0.2), down, nn.ReLU(), up, nn.Identity()]
        else:
            up = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=False)
            layers = [nn.LeakyReLU(0.2), down, nn.Identity(), submodule, nn.ReLU(), up, nn.Identity()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """The release's ``UnetGenerator(input_nc, output_nc, num_downs, ngf)`` without normalisation."""

    def __init__(self, input_nc: int = 3, output_nc: int = 6, num_downs: int = 9, ngf: int = 64):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be at least 5 (the fixed 64-128-256-512 levels), got {num_downs}")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block)
        for outer, inner in ((ngf * 4, ngf * 8), (ngf * 2, ngf * 4), (ngf, ngf * 2)):
            block = UnetSkipConnectionBlock(outer, inner, submodule=block)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Zou2020(nn.Module):
    """Zou et al.'s separator (see the module docstring).

    Args:
        ngf: width of the first level (release 64); num_downs: halvings (release 9, ``unet_512``).
        resize_to: None (pad to a multiple of 2^num_downs, the registered behaviour) or a side length
            to resize to and back (512: the release's evaluation).
    """

    def __init__(self, ngf: int = 64, num_downs: int = 9, resize_to: int | None = None):
        super().__init__()
        if resize_to is not None and resize_to % (2 ** num_downs):
            raise ValueError(f"resize_to must be a multiple of {2 ** num_downs}, got {resize_to}")
        self.multiple, self.resize_to = 2 ** num_downs, resize_to
        self.net_G = UnetGenerator(3, 6, num_downs, ngf)

    def forward(self, x: torch.Tensor) -> Zou2020Output:
        check_image_batch(x)
        h, w = x.shape[-2:]
        if self.resize_to is not None:
            size = (self.resize_to, self.resize_to)
            y = self.net_G(F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True))
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        else:
            padded, _, _ = pad_to_multiple(x, self.multiple)
            y = self.net_G(padded)[..., :h, :w]
        return Zou2020Output(y[:, :3], y[:, 3:])


def convert_release(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The release's checkpoint (``best_ckpt.pt``: ``{'model_G_state_dict': ..., 'model_D1_state_dict': ...,
    optimizers, schedulers}``, which the loader flattens with dots) -> ours: the generator's entries
    under ``net_G.`` (``model.model.0.weight`` -> ``net_G.model.model.0.weight``); the discriminators,
    optimizers and schedulers are left out. A bare generator state dict (``model.model...`` keys) is
    accepted too."""
    prefix = "model_G_state_dict."
    if any(k.startswith(prefix) for k in state_dict):
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return {f"net_G.{k.removeprefix('module.')}": v for k, v in state_dict.items()}


@register_model("zou2020", tasks=("reflection",), paper="Zou et al. (CVPR 2020)",
                summary="deep adversarial decomposition: the `unet_512` separator, T and R",
                release=("jiupinjia/Deep-adversarial-decomposition", "cyclegan_networks.py"),
                published_params="66.993 M", default_loss="zou2020", converter=convert_release)
def zou2020(**kwargs) -> nn.Module:
    return Zou2020(**kwargs)
