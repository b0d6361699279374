"""Architectures this package does not implement, detected from a checkpoint by spandrel.

``uhr4k bench --weights swinir.pth`` (no ``--model``, or ``--model auto``) runs any same-size
restoration network spandrel knows (SwinIR, Uformer, KBNet, MixDehazeNet, FFTformer, ...) through the
benchmark's protocols and tiling. spandrel is optional: ``pip install uhr4k[zoo]``.

The file is read by uhr4k first (``weights_only=True``, the wrappers of :mod:`uhr4k.models.weights.read`);
uhr4k's own files (exports, checkpoints) name their model and need no detection.
"""
from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import torch
import torch.nn as nn

from uhr4k.core.errors import InputError
from uhr4k.models.factory import create_model
from uhr4k.models.weights.read import read_weights

AUTO = "auto"


class DetectedModel(nn.Module):
    """A spandrel model as a uhr4k model: (B, C, H, W) in [0, 1] -> (B, C, H, W).

    Inputs that miss the architecture's size requirements (a multiple of the window, a minimum side) are
    padded at the bottom/right as spandrel pads them (reflection, then replication) and the output is
    cropped back.

    Attributes:
        architecture: the detected architecture's name, as spandrel spells it ("SwinIR", ...).
    """

    def __init__(self, descriptor):
        super().__init__()
        self.net = descriptor.model
        self.architecture = descriptor.architecture.name
        self.size_requirements = descriptor.size_requirements
        self._call = getattr(descriptor, "_call_fn", None) or (lambda model, image: model(image))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from spandrel.__helpers.size_req import pad_tensor

        h, w = x.shape[-2:]
        _, padded = pad_tensor(x, self.size_requirements)
        return self._call(self.net, padded)[..., :h, :w]


def import_spandrel():
    """``spandrel`` with its extra architectures installed, or an InputError saying how to get it.

    spandrel imports torchvision for two architectures (LaMa inpainting, RestoreFormer faces), neither
    a same-size restorer; where torchvision is absent or unusable (a CPU torch beside a CUDA
    torchvision), those two are left unusable and every other architecture still loads.
    """
    try:
        import torchvision.transforms.functional  # noqa: F401
    except Exception:  # absent, or present but built for another torch
        _stand_in_torchvision()
    try:
        spandrel = importlib.import_module("spandrel")
    except ModuleNotFoundError:
        raise InputError("--model auto: detecting an architecture needs spandrel (pip install 'uhr4k[zoo]')") \
            from None
    try:
        importlib.import_module("spandrel_extra_arches").install()
    except ModuleNotFoundError:
        pass  # the main registry alone
    except ValueError:
        pass  # already installed into spandrel's registry
    return spandrel


def _stand_in_torchvision() -> None:
    """Modules named torchvision / torchvision.transforms(.functional) whose three functions spandrel
    imports raise when called (only LaMa and RestoreFormer call them)."""
    def unusable(*_args, **_kwargs):
        raise RuntimeError("torchvision is not usable here: LaMa and RestoreFormer cannot run")

    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]  # a half-imported, broken torchvision
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.rotate = functional.normalize = unusable
    functional.InterpolationMode = types.SimpleNamespace(BILINEAR="bilinear", NEAREST="nearest",
                                                         BICUBIC="bicubic")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.functional = functional
    package = types.ModuleType("torchvision")
    package.transforms = transforms
    package.__uhr4k_stand_in__ = True
    sys.modules.update({"torchvision": package, "torchvision.transforms": transforms,
                        "torchvision.transforms.functional": functional})


def detect(path: str | Path) -> tuple[str, nn.Module]:
    """(label, model in eval mode) for a weights file whose architecture is unknown to the caller.

    uhr4k files load through the registry (label: their model name); anything else through spandrel
    (label: ``ARCHITECTURE[file name]``).

    Raises:
        InputError: unreadable file, spandrel missing, an architecture spandrel does not know, or a model
        that is not a same-size 3-channel restorer (super-resolution, inpainting, grey images).
    """

    path = Path(path)
    weights = read_weights(path)
    if weights.config is not None:
        name = weights.config["model"]
        return name, create_model(name, pretrained=weights)
    if weights.several_files:
        raise InputError("--model auto: a folder of several weight files; name the model with --model", path)
    spandrel = import_spandrel()
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(weights.state)
    except spandrel.UnsupportedModelError:
        raise InputError("--model auto: spandrel knows no architecture with these keys; name it with --model "
                         "(see `uhr4k models`)", path) from None
    except Exception as exc:  # a known architecture whose detection failed on this file
        raise InputError(f"--model auto: spandrel could not load it ({type(exc).__name__}: {str(exc)[:160]})",
                         path) from None
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.scale != 1:
        raise InputError(f"--model auto: a {descriptor.architecture.name} model with purpose "
                         f"{getattr(descriptor, 'purpose', '?')} and scale {descriptor.scale}; the benchmark "
                         f"compares same-size restorations", path)
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise InputError(f"--model auto: {descriptor.architecture.name} takes {descriptor.input_channels} and "
                         f"gives {descriptor.output_channels} channels; the benchmark is RGB", path)
    return f"{descriptor.architecture.name}[{path.name}]", DetectedModel(descriptor).eval()


def build_with_weights(names: tuple[str, ...], weights: tuple[str, ...]) -> dict[str, nn.Module]:
    """``bench --model NAME --weights PATH`` pairs (by position; no ``--model`` or ``auto`` detects).

    Models without parameters (``identity``, ``dcp``) take no weights and are left out of the pairing, so
    ``--model identity --model restormer --weights deraining.pth`` works; the weighted models come first
    in the result, in the order of ``weights``.

    Raises:
        InputError: counts that do not pair, or any weights that do not load.
    """

    free = [n for n in names if n != AUTO and _parameter_free(n)]
    paired = [n for n in names if n not in free] or [AUTO] * len(weights)
    if len(paired) != len(weights):
        raise InputError(f"--weights: {len(weights)} files for {len(paired)} --model names that take weights; give "
                         f"one --model per --weights (in order), or no --model to detect each architecture")
    models: dict[str, nn.Module] = {}
    for name, path in zip(paired, weights, strict=True):
        if name == AUTO:
            label, model = detect(path)
        else:
            label, model = name, create_model(name, pretrained=path)
        if label in models:
            label = f"{label}@{path}"
        models[label] = model
    for name in free:
        models[name] = create_model(name)
    return models


def _parameter_free(name: str) -> bool:
    """Whether the registered model ``name`` has no parameters (built on the meta device: no cost)."""

    try:
        with torch.device("meta"):
            model = create_model(name)
    except (RuntimeError, NotImplementedError):  # a constructor that needs real values
        model = create_model(name)
    return not any(True for _ in model.parameters())
