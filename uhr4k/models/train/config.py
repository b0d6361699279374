"""The training configuration: :class:`TrainConfig`, everything a run depends on, in one typed record.

It is made from keywords (``TrainConfig(model="prenet", epochs=100)``), from a recipe file
(:meth:`TrainConfig.from_yaml`: a shipped recipe by name, ``glsgn``, ``restormer``, or a YAML path),
from plain dicts (:meth:`TrainConfig.from_dict`: an experiment's workers, a JSON file), and changed by
:meth:`TrainConfig.override` (the command line's flags, an experiment's overrides). A recipe file is a
YAML mapping of the fields below, the optimizer and the schedule as mappings of their own fields::

    model: restormer
    optimizer: {name: adamw, betas: [0.9, 0.999], weight_decay: 1.0e-4}
    lr: 3.0e-4
    schedule: {name: cosine, unit: step, periods: [92000, 208000], eta_min: [3.0e-4, 1.0e-6]}
    crop: [384, 384]                               # [width, height], or null: whole images
    progressive: [{until: 92000, crop: [128, 128], batch: 8}, ...]
    loss_kwargs: {perceptual_weight: 0.01}         # options of the loss (uhr4k.models.losses)

Every value is checked as the command-line flag checks it (``epochs: 1.5`` and ``batch: true`` are
refused), and an unknown key too: one :class:`ConfigError` (an InputError) naming the file and the key.

Stdlib dataclasses rather than a validation library: the config is plain data that checkpoints
(``config_record`` in :mod:`uhr4k.models.train.loop`) and the experiments' step keys already keep as
dicts, so the few checks it needs (:mod:`uhr4k.models.train.plain`) are not worth a dependency. The
optimizer and the schedule are :class:`~uhr4k.models.train.schedules.OptimizerSpec` and
:class:`~uhr4k.models.train.schedules.Schedule` themselves.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from pathlib import Path

import yaml

from uhr4k.benchmark.metrics import PROTOCOLS
from uhr4k.core.errors import InputError
from uhr4k.core.speed import PRECISIONS
from uhr4k.models.train.plain import FieldError, PlainData, above, at_least, matching, one_of, within
from uhr4k.models.train.schedules import OptimizerSpec, Schedule

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"


class ConfigError(InputError):
    """A refused config value: ``key`` names the field (``schedule.gamma``), ``problem`` says why; the
    message is ``"<source>: <key>: <problem>"`` (``source``: the recipe file, when there is one)."""

    def __init__(self, key: str, problem: str, source=None):
        self.key, self.problem = key, problem
        super().__init__(f"{key}: {problem}", source)


@dataclass(frozen=True)
class Phase(PlainData):
    """A phase of progressive training: until position ``until`` (exclusive; epochs or steps, the schedule's
    unit) train on ``crop`` (width, height) in batches of ``batch``; None: the run's (Restormer's
    progressive patch sizes)."""

    kind = "phase"

    until: int = field(metadata=at_least(1))
    crop: tuple[int, int] | None = field(default=None, metadata=at_least(1))
    batch: int | None = field(default=None, metadata=at_least(1))

    def to_dict(self) -> dict:
        """The fields that are set (a phase without ``crop`` keeps the run's)."""
        return {k: v for k, v in super().to_dict().items() if v is not None}


@dataclass(frozen=True)
class TrainConfig(PlainData):
    """Everything a run depends on. ``model_kwargs``/``loss_kwargs`` override the registered defaults."""

    kind = "config"

    model: str = "glsgn"
    data: str | None = None                 # dataset root, preset or PRESET=PATH (uhr4k.data.resolve_dataset)
    out: str | None = None                  # the run folder
    subset: str | None = None
    model_kwargs: dict = field(default_factory=dict)
    loss: str | None = None                 # None: the model's ``default_loss``
    loss_kwargs: dict = field(default_factory=dict)
    epochs: int = field(default=500, metadata=at_least(1))
    batch: int = field(default=4, metadata=at_least(1))                  # per process
    lr: float = field(default=2e-4, metadata=above(0))                   # the schedule's peak
    crop: tuple[int, int] | None = field(default=(960, 540), metadata=at_least(1))   # (width, height)
    augment: bool = True
    seed: int = 0
    workers: int = field(default=0, metadata=at_least(0))
    val_split: str | None = "val"           # None or "none": no validation
    val_limit: int | None = field(default=None, metadata=at_least(1))   # validate on the first N pairs only
    protocol: str | None = field(default=None, metadata=one_of(*PROTOCOLS))  # None: the data's (as bench)
    steps_per_epoch: int | None = field(default=None, metadata=at_least(1))  # cap (smoke runs)
    device: str | None = field(default=None, metadata=matching(r"cpu|mps|cuda(:\d+)?", "cpu, mps, cuda or cuda:N"))
    #                                         None: cuda:LOCAL_RANK if available, else cpu
    time_limit_s: float | None = field(default=None, metadata=at_least(0))  # stop after the epoch that passes it
    resume: bool = False
    progress: bool = True
    init_weights: str | None = None         # fine-tune from these weights (any format pretrained= reads)
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    schedule: Schedule = field(default_factory=Schedule)
    ema: float | None = field(default=None, metadata=within(0, 1))      # decay of params_ema (BasicSR: 0.999)
    grad_clip: float | None = field(default=None, metadata=above(0))    # max L2 norm of the generator's gradient
    progressive: tuple[Phase, ...] = ()     # in the schedule's unit, taking effect at epoch starts
    iterations: int | None = field(default=None, metadata=at_least(1))  # stop after this many optimizer steps
    precision: str = field(default="fp32", metadata=one_of(*PRECISIONS))   # autocast (fp16 with a scaler)
    channels_last: bool = False
    compile: bool = False                   # torch.compile the model for the training steps
    tensorboard: bool = False               # also write <out>/tensorboard (pip install uhr4k[tb])

    def __post_init__(self):
        try:
            super().__post_init__()
        except FieldError as exc:
            raise ConfigError(exc.key, exc.problem) from None
        for i, (before, phase) in enumerate(pairwise(self.progressive)):
            if phase.until <= before.until:
                raise ConfigError(f"progressive[{i + 2}].until", f"must be beyond the previous phase's "
                                                                 f"{before.until}, got {phase.until}")

    @classmethod
    def from_dict(cls, data: Mapping | None, source=None) -> TrainConfig:
        """The config of a mapping of its fields (missing ones take their defaults).

        Raises:
            ConfigError: an unknown key or a refused value, naming ``source`` (a file) and the key.
        """
        if data is not None and not isinstance(data, Mapping):
            raise InputError(f"a training config is a mapping of its fields, got {type(data).__name__}", source)
        data = dict(data or {})
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise ConfigError(str(key), _unknown_key(str(key), names), source)
        try:
            return cls(**data)
        except ConfigError as exc:
            raise ConfigError(exc.key, exc.problem, source) from None

    @classmethod
    def from_yaml(cls, path_or_name, **overrides) -> TrainConfig:
        """A recipe file (a shipped recipe by name: ``glsgn``, ``recipes/glsgn.yml``; or a YAML path),
        then ``overrides`` (see :meth:`override`).

        Raises:
            InputError: no such recipe or not a readable YAML mapping; ConfigError: a bad key or value,
            naming the file (or only the key, for an override).
        """
        path = recipe_path(path_or_name)
        config = cls.from_dict(read_recipe(path), source=path)
        return config.override(**overrides) if overrides else config

    def override(self, **changes) -> TrainConfig:
        """A copy with these fields changed. A mapping for ``optimizer`` or ``schedule`` changes only the
        fields it names (``schedule={"unit": "step"}`` keeps the schedule's name); any other value replaces
        the field's.

        Raises:
            ConfigError: an unknown field or a refused value, naming the key.
        """
        names = [f.name for f in fields(self)]
        for key in changes:
            if key not in names:
                raise ConfigError(key, _unknown_key(key, names))
        for part in ("optimizer", "schedule"):
            if isinstance(changes.get(part), Mapping):
                changes[part] = {**getattr(self, part).to_dict(), **changes[part]}
        return replace(self, **changes)


def _unknown_key(key: str, names: list[str]) -> str:
    """The problem of an unknown key, naming the field it may mean (``weight-decay``:
    ``optimizer.weight_decay``; ``schedule-unit``: ``schedule.unit``)."""
    wanted = key.replace("-", "_")
    nested = {f.name: f"{part}.{f.name}" for part, cls in (("schedule", Schedule), ("optimizer", OptimizerSpec))
              for f in fields(cls)}
    close = [nested[wanted]] if wanted in nested else \
        difflib.get_close_matches(wanted, names + list(nested.values()), n=1, cutoff=0.8)
    if close:
        return f"unknown key (did you mean {close[0]}?)"
    return f"unknown key (the keys: {', '.join(names)})"


def shipped_recipes() -> dict[str, Path]:
    """Name -> path of every recipe the package ships (``uhr4k/recipes/NAME.yml``)."""
    return {p.stem: p for p in sorted(RECIPES_DIR.glob("*.yml"))}


def recipe_path(spec) -> Path:
    """A recipe file: ``spec`` itself when it is a file, else the shipped recipe it names (``glsgn``,
    ``recipes/glsgn.yml``, ``glsgn.yml``).

    Raises:
        InputError: neither, listing the shipped recipes.
    """
    path = Path(spec)
    if path.is_file():
        return path
    shipped = shipped_recipes()
    found = shipped.get(path.stem if path.suffix in (".yml", ".yaml") else path.name)
    if found is not None and (len(path.parts) == 1 or path.parent.name == "recipes"):
        return found
    raise InputError(f"no such recipe file (shipped recipes: {', '.join(shipped)})", spec)


def read_recipe(path: Path) -> dict:
    """The YAML mapping of a recipe file, read with ``yaml.safe_load`` (InputError naming the file when it
    is not one)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a readable YAML recipe ({reason})", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"a recipe holds a mapping of TrainConfig fields, got {type(data).__name__}", path)
    return data
