"""Weights from a file or folder as their authors distribute them, read without running code.

:func:`read_weights` accepts, always with ``torch.load(weights_only=True)`` or safetensors:

* a plain state dict (``torch.save(model.state_dict())``), with or without DataParallel's ``module.`` or
  ``torch.compile``'s ``_orig_mod.`` prefixes;
* a wrapper around one: BasicSR's ``{"params": ...}`` / ``{"params_ema": ...}`` (the EMA weights win: they
  are what such releases evaluate), ``state_dict``, ``model_state_dict``, ``model``, ``net``, ``network``,
  ``generator``, ``netG``, ``net_g``, ``state``; whatever else the file holds (epoch, optimizer, options) is
  dropped, and a dict of several sub-networks is flattened with dots (``{"icnn": {...}}`` ->
  ``icnn.conv1.weight``);
* a uhr4k training checkpoint (``{"params", "config"}``, :mod:`uhr4k.models.weights.checkpoint`);
* a ``.safetensors`` file;
* a folder exported by :func:`uhr4k.models.weights.export.export_checkpoint` (``model.safetensors`` +
  ``config.json``: the layout of a Hugging Face model folder);
* any other folder of weight files: one file is read as above; several (IBCLN's two generators) are read
  each as above and handed over together, keyed by file name.

Besides tensors and containers, ``weights_only`` here admits a few plain-data types that research
checkpoints often carry beside their weights (NumPy scalars, dtypes and arrays such as a saved
``best_psnr``; ``argparse.Namespace`` options): they construct data, never run code. A whole pickled
module (``torch.save(model)``, MSBDN's ``model.pkl``) is refused, with the command that
extracts its state dict through the authors' code. :func:`uhr4k.models.weights.load.load_weights` then
converts the release layout (the registered converter, see :mod:`uhr4k.models.registry`) and loads
strictly: a file that does not fit is one line naming the first missing, unexpected and mis-shaped keys.
"""
from __future__ import annotations

import io
import json
import os
import pickletools
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from uhr4k.core.errors import InputError
from uhr4k.models.registry import is_several_files
from uhr4k.models.weights.checkpoint import checkpoint_problem, evaluation_params

StateDict = dict[str, torch.Tensor]

# File names that hold weights, as releases name them.
WEIGHT_SUFFIXES = (".pth", ".pt", ".ckpt", ".pkl", ".bin", ".safetensors", ".tar", ".pth.tar", ".model")
# Keys under which a file nests its weights, in the order they are tried.
WRAPPER_KEYS = ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net",
                "network", "generator", "netG", "net_g", "state")
# Entries of a training file that are not the network's weights.
TRAINING_KEYS = frozenset({"optimizer", "optimizers", "optim", "optimizer_state_dict", "scheduler",
                           "schedulers", "lr_scheduler", "scaler", "amp", "opt", "args", "config", "epoch",
                           "iter", "iteration", "iterations", "step", "best_psnr", "discriminator",
                           "discriminator_optimizer"})
PREFIXES = ("module.", "_orig_mod.")
EXPORT_WEIGHTS, EXPORT_CONFIG = "model.safetensors", "config.json"


@dataclass
class Weights:
    """What :func:`read_weights` found.

    ``state`` is one state dict, or for a folder of several files ``{file name: state dict}``;
    ``config`` is ``{"model": name, "kwargs": {...}, ...}`` for uhr4k's own files (already in this
    package's layout), None for a release.
    """

    state: StateDict | dict[str, StateDict]
    config: dict | None
    source: Path

    @property
    def several_files(self) -> bool:
        return is_several_files(self.state)


# ------------------------------------------------------------------------------------------- reading


def read_weights(path: str | os.PathLike) -> Weights:
    """Read a weights file or folder (any format listed in the module docstring) without running code.

    Raises:
        InputError: naming the path: missing, unreadable, a pickled module, or holding no tensors.
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise InputError("no such weights file or folder", path)
    obj = _load_file(path)
    if checkpoint_problem(obj) is None:
        return checkpoint_weights(obj, path)
    return Weights(unwrap_state_dict(obj, path), None, path)


def checkpoint_weights(checkpoint: dict, path: str | os.PathLike) -> Weights:
    """The :class:`Weights` of a uhr4k checkpoint read from ``path``: its evaluation weights
    (:func:`uhr4k.models.weights.checkpoint.evaluation_params`) and its config."""
    path = Path(path)
    return Weights(tensors_only(evaluation_params(checkpoint), path), dict(checkpoint["config"]), path)


def _read_folder(folder: Path) -> Weights:
    config_path, weights_path = folder / EXPORT_CONFIG, folder / EXPORT_WEIGHTS
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"unreadable config.json ({exc})", config_path) from None
        if isinstance(config, dict) and "model" in config:
            if not isinstance(config.get("kwargs", {}), dict):
                raise InputError("config.json: 'kwargs' must be an object", config_path)
            if not weights_path.is_file():
                raise InputError(f"config.json names model {config['model']!r} but {EXPORT_WEIGHTS} is missing",
                                 folder)
            return Weights(_load_safetensors(weights_path), config, folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(WEIGHT_SUFFIXES))
    if not files:
        raise InputError(f"no weight file ({', '.join(WEIGHT_SUFFIXES)}) in the folder", folder)
    if len(files) == 1:
        return read_weights(files[0])
    return Weights({p.name: read_weights(p).state for p in files}, None, folder)


def _harmless_globals() -> list:
    """Plain-data classes admitted beside torch's own by the weights-only unpickler (NumPy scalars,
    dtypes, arrays; argparse options), under both NumPy 1 and 2 module names."""
    import argparse

    import numpy as np

    try:
        from numpy._core import multiarray
        old = "numpy.core.multiarray"
    except ImportError:  # NumPy 1
        from numpy.core import multiarray
        old = None
    allowed = [argparse.Namespace, np.ndarray, np.dtype, multiarray.scalar, multiarray._reconstruct]
    if old is not None:  # files written under NumPy 1 name the old module
        allowed += [(multiarray.scalar, f"{old}.scalar"), (multiarray._reconstruct, f"{old}._reconstruct")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return allowed


def _load_file(path: Path):
    if path.name.lower().endswith(".safetensors"):
        return _load_safetensors(path)
    try:
        with torch.serialization.safe_globals(_harmless_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types; the message is what matters
        module_class = _pickled_module_class(path)
        if module_class is not None:
            raise InputError(
                f"a whole pickled model ({module_class}), not a state dict; uhr4k never unpickles code. Extract "
                f"its weights once where the authors' code is importable: python -c \"import torch; "
                f"torch.save(torch.load('{path.name}', weights_only=False).state_dict(), "
                f"'{path.stem}_state_dict.pth')\", then load {path.stem}_state_dict.pth", path) from None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not loadable with weights_only=True ({reason[:200]})", path) from None


def _load_safetensors(path: Path) -> StateDict:
    try:
        from safetensors.torch import load_file
    except ModuleNotFoundError:
        raise InputError("reading .safetensors needs the safetensors package (pip install safetensors)",
                         path) from None
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise InputError(f"not a readable safetensors file ({str(exc).strip()[:200]})", path) from None


def _pickled_module_class(path: Path) -> str | None:
    """The first ``torch.nn`` class (or the first class) a pickle names when it holds a whole module.

    Reads the pickle's opcodes (nothing is executed): the zip format's ``data.pkl`` or the legacy
    format's successive pickles.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                streams = [io.BytesIO(archive.read(name))] if name else []
        else:
            with open(path, "rb") as f:
                data = f.read()
            stream = io.BytesIO(data)
            streams = [stream] * 4  # magic number, protocol, system info, then the object
    except (OSError, zipfile.BadZipFile):
        return None
    globals_seen: list[str] = []
    for stream in streams:
        strings: list[str] = []
        try:
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                    strings.append(arg)
                elif opcode.name == "GLOBAL":
                    globals_seen.append(arg.replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    globals_seen.append(f"{strings[-2]}.{strings[-1]}")
                if opcode.name == "STOP":
                    break
        except Exception:  # not a pickle, or a truncated one: no verdict
            break
    if not any(g.startswith(("torch.nn.modules.", "torch.nn.parallel.")) for g in globals_seen):
        return None
    own = [g for g in globals_seen if not g.startswith(("torch.", "collections.", "builtins.", "_codecs."))]
    return own[0] if own else next(g for g in globals_seen if g.startswith("torch.nn."))


def unwrap_state_dict(obj, path: str | os.PathLike | None = None) -> StateDict:
    """The flat state dict inside a loaded release object (the rules of the module docstring).

    Raises:
        InputError: the object holds no tensors.
    """
    if not isinstance(obj, dict):
        raise InputError(f"holds a {type(obj).__name__}, not a state dict", path)
    while not _all_tensors(obj):
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), dict) and obj[k]), None)
        if inner is None:
            break
        obj = inner
    flat: StateDict = {}
    _flatten(obj, "", flat, top=True)
    if not flat:
        keys = ", ".join(map(repr, list(obj)[:6]))
        raise InputError(f"holds no weight tensors (top-level keys: {keys})", path)
    return flat


def _all_tensors(obj: dict) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _flatten(obj: dict, prefix: str, out: StateDict, top: bool) -> None:
    for key, value in obj.items():
        key = str(key)
        if top and key in TRAINING_KEYS:
            continue
        if isinstance(value, torch.Tensor):
            out[_strip_prefixes(prefix + key)] = value
        elif isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", out, top=False)


def _strip_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


def tensors_only(state: dict, path: Path) -> StateDict:
    """The tensors of ``state``, keys without DataParallel / compile prefixes."""
    return {_strip_prefixes(str(k)): v for k, v in state.items() if isinstance(v, torch.Tensor)}
