"""Option files for ``uhr4k train --config FILE``: YAML mappings whose keys are the command's options.

Keys are option names with dashes or underscores (``lr``, ``weight-decay``, ``model_args``); values are
what the option takes, or the natural YAML form: lists for comma-separated numbers (``betas: [0.9, 0.999]``),
``crop: 960x540`` or ``[960, 540]``, a mapping for ``model_args`` (``{width: 16}``), a list of mappings for
``progressive`` (``[{until: 92, crop: 128x128, batch: 8}, ...]``). The file's values become the command's
defaults, so any flag on the command line overrides them.

``--config NAME`` (or ``recipes/NAME.yml``) with no such file reads the recipe the package ships in
``uhr4k/recipes/``: one per registered model, with its authors' published settings.
"""
from __future__ import annotations

from pathlib import Path

import click

from uhr4k.core.errors import InputError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"


def shipped_recipes() -> dict[str, Path]:
    """Name -> path of every recipe the package ships."""
    return {p.stem: p for p in sorted(RECIPES_DIR.glob("*.yml"))}


def recipe_path(spec: str) -> Path:
    """A file, or a shipped recipe by name (``glsgn``, ``recipes/glsgn.yml``)."""
    path = Path(spec)
    if path.is_file():
        return path
    shipped = shipped_recipes().get(path.stem if path.suffix in (".yml", ".yaml") else path.name)
    if shipped is not None and (len(path.parts) == 1 or path.parent.name == "recipes"):
        return shipped
    raise InputError(f"no such option file (shipped recipes: {', '.join(shipped_recipes())})", spec)


def load_recipe(path: Path) -> dict:
    """The YAML mapping of an option file (InputError naming the file when it is not one)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a readable YAML option file ({reason})", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"an option file holds a mapping of options, got {type(data).__name__}", path)
    return data


def _as_option_value(key: str, value, param: click.Parameter, path: Path):
    """A YAML value in the form the click option parses."""
    if key == "model_args" and isinstance(value, dict):
        return [f"{k}={v!r}" for k, v in value.items()]
    if key == "progressive" and isinstance(value, list):
        return [_phase_text(phase, path) for phase in value]
    if key == "crop" and isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value)
    if isinstance(value, (list, tuple)) and not getattr(param, "multiple", False):
        return ",".join(str(v) for v in value)
    return value


def _phase_text(phase, path: Path) -> str:
    if isinstance(phase, str):
        return phase
    if not isinstance(phase, dict) or "until" not in phase:
        raise InputError(f"progressive: each phase is {{until: EPOCH, crop: WxH, batch: N}}, got {phase!r}", path)
    crop = phase.get("crop", "")
    crop = "x".join(str(v) for v in crop) if isinstance(crop, (list, tuple)) else str(crop)
    return f"{phase['until']}:{crop}:{phase.get('batch', '')}"


def recipe_defaults(spec: str, command: click.Command) -> dict:
    """The option file ``spec`` as a click ``default_map`` for ``command`` (param name -> value)."""
    path = recipe_path(spec)
    names = {}
    for param in command.params:
        for opt in getattr(param, "opts", []):
            names[opt.lstrip("-").replace("-", "_")] = param
        names[param.name] = param
    defaults = {}
    for key, value in load_recipe(path).items():
        param = names.get(str(key).replace("-", "_"))
        if param is None or param.name == "config_file":
            raise InputError(f"unknown option {key!r} (keys are `uhr4k train` options)", path)
        value = _as_option_value(param.name, value, param, path)
        if getattr(param, "multiple", False) and not isinstance(value, (list, tuple)):
            value = [value]                  # one phase / one model argument written without a list
        try:                                 # checked here, so that a bad value names the file
            param.type_cast_value(click.Context(command), value)
            if param.name == "progressive":  # phases are text that the command parses itself
                from uhr4k.commands.options import parse_phases
                parse_phases(tuple(value))
        except click.BadParameter as exc:
            raise InputError(f"{key}: {exc.format_message()}", path) from None
        except InputError as exc:
            raise InputError(f"{key}: {exc}", path) from None
        defaults[param.name] = value
    return defaults
