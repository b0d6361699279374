"""VGG-19 features for the perceptual loss, with torchvision's state-dict layout (``features.N.*``).

torchvision is not a dependency: the network is written here and loads a torchvision ``vgg19``
state dict (e.g. ``vgg19-dcbb9e9d.pth``) given by path or by the environment variable
``UHR4K_VGG19_WEIGHTS``. Only ``features`` up to relu5_1 (index 29) is built; other keys
(later layers, the classifier) are ignored.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn

from uhr4k.core.errors import InputError

WEIGHTS_ENV = "UHR4K_VGG19_WEIGHTS"
# torchvision's configuration "E" (VGG-19): channels, "M" a 2x2 max-pool.
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 as indices of torchvision's ``features``.
PERCEPTUAL_LAYERS = (1, 6, 11, 20, 29)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _features(last_index: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG19_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=False)]
            channels = item
        if len(layers) > last_index:
            break
    return nn.Sequential(*layers[:last_index + 1])


class VGG19Features(nn.Module):
    """Frozen VGG-19 ``features``; ``forward(x)`` returns the activations at ``layers``.

    Args:
        layers: indices of torchvision's ``features`` (default relu1_1 ... relu5_1).
    ``forward``: x (B, 3, H, W) in [0, 1] (ImageNet mean/std applied inside) -> list of
    (B, C_i, H / 2^i, W / 2^i) tensors, C = 64, 128, 256, 512, 512 for the default layers.
    """

    def __init__(self, layers=PERCEPTUAL_LAYERS):
        super().__init__()
        self.layers = tuple(layers)
        self.features = _features(max(self.layers))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always eval: no dropout/BN here, but keep it explicit

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W), got shape {tuple(x.shape)}")
        h = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.layers:
                out.append(h)
        return out

    def load_torchvision(self, state: dict, source: str | os.PathLike = "state dict") -> "VGG19Features":
        """Load the ``features.N.*`` entries of a torchvision vgg19 state dict; raise InputError on a mismatch."""
        own = self.state_dict()
        picked = {}
        for key in own:
            if key not in state:
                raise InputError(f"not a torchvision VGG-19 state dict (no {key!r})", source)
            if tuple(state[key].shape) != tuple(own[key].shape):
                raise InputError(f"{key} has shape {tuple(state[key].shape)}, VGG-19 needs {tuple(own[key].shape)}",
                                 source)
            picked[key] = state[key]
        self.load_state_dict(picked)
        return self


def load_vgg19(path: str | os.PathLike | None = None, layers=PERCEPTUAL_LAYERS) -> VGG19Features:
    """VGG-19 features with pretrained weights from ``path`` or ``$UHR4K_VGG19_WEIGHTS``.

    Raises:
        InputError: no path given, missing or unreadable file, or not VGG-19 weights.
    """
    path = path or os.environ.get(WEIGHTS_ENV)
    if not path:
        raise InputError(f"the perceptual loss needs pretrained VGG-19 weights: give a torchvision vgg19 state dict "
                         f"with --vgg-weights PATH or ${WEIGHTS_ENV} (or set the perceptual weight to 0)")
    path = Path(path)
    if not path.is_file():
        raise InputError("no such VGG-19 weights file", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read VGG-19 weights ({type(exc).__name__})", path) from None
    if not isinstance(state, dict):
        raise InputError("not a state dict", path)
    return VGG19Features(layers).load_torchvision(state, path)
