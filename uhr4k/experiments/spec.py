"""What an experiment of the paper is, read from its declarative file (``uhr4k/experiments/<name>.toml``).

A file names, in this order of reading:

* ``title``, ``kind`` and ``reading`` (our reading of what the paper did, where it does not say);
* ``kind = "restoration"``: ``task`` (the registry task whose models join as competitors when
  ``competitors = true``), ``recipe`` (the shipped training recipe every row trains with: ``"glsgn"`` is
  ``uhr4k/recipes/glsgn.yml``; none: TrainConfig's defaults), ``[overrides]`` (TrainConfig fields this
  experiment sets otherwise, in the recipe's field names), ``[[datasets]]`` (a preset to score on and the
  preset whose ``train`` split trains the models scored there) and ``[smoke]`` (the tiny twin: generated
  data's ``size`` and ``pairs``, the models' ``width``, the ``profile`` size, and ``overrides`` added to
  :data:`SMOKE_OVERRIDES`);
* ``figure = true``: the results are also drawn (``OUT/figure.png``), as the paper shows them;
* ``kind = "complexity"`` (Table I) or ``"runtime"`` (Table IV): ``profile = [width, height]``, no data;
* ``[[rows]]``: the paper's rows in its order: ``label``, ``model`` (a registry name, or one the package
  lacks), optional ``kwargs`` and ``paper`` (the paper's numbers: ``paper.<dataset> = [PSNR, SSIM]`` for
  a restoration table, ``paper.<metric> = value`` for the others).

The paper's numbers are data: they fill the table's *paper* column and never stand in for a result.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources

from uhr4k.core.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KINDS = ("restoration", "complexity", "runtime")
RESTORATION_METRICS = ("psnr", "ssim")


@dataclass(frozen=True)
class Row:
    """One row of the paper's table: what to build, and what the paper reports for it."""

    label: str
    model: str
    kwargs: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)    # dataset -> [psnr, ssim], or metric -> value
    ours: bool = False                           # the paper's own model (GLSGN or one of its variants)
    from_registry: bool = False                  # a competitor found in the registry, not a paper row

    @property
    def slug(self) -> str:
        """A file-name-safe name of the row (model plus its kwargs)."""
        extra = "".join(f"_{k}{v}" for k, v in sorted(self.kwargs.items()))
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.model + extra)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset the table scores on (``preset``) and the preset whose train split trains for it."""

    preset: str
    train: str
    label: str


# What a smoke run changes of the experiment's training config: one step of one epoch at 32 x 32
SMOKE_OVERRIDES = {"epochs": 1, "batch": 1, "crop": [32, 32], "steps_per_epoch": 1}


@dataclass(frozen=True)
class Smoke:
    """The tiny twin of a run: a few steps at small crops, small widths, a generated dataset."""

    overrides: dict = field(default_factory=lambda: dict(SMOKE_OVERRIDES))   # TrainConfig fields
    size: tuple[int, int] = (64, 48)          # generated image (width, height)
    pairs: dict = field(default_factory=lambda: {"train": 2, "val": 1, "test": 2})
    width: int = 4                            # the channel width tried for every model (see run.py)
    profile: tuple[int, int] = (64, 48)


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    kind: str
    rows: tuple[Row, ...]
    task: str | None = None
    competitors: bool = False
    datasets: tuple[DatasetSpec, ...] = ()
    recipe: str | None = None                 # a shipped recipe's name; None: TrainConfig's defaults
    overrides: dict = field(default_factory=dict)   # TrainConfig fields changed from the recipe's
    smoke: Smoke = Smoke()
    profile: tuple[int, int] = (3840, 2160)
    reading: str = ""
    source: str = ""
    figure: bool = False                      # also draw OUT/figure.png (the paper shows it as a figure)

    def summary(self) -> str:
        what = ", ".join(d.label for d in self.datasets) if self.datasets else "no data (profiling)"
        return f"{self.name:8s} {self.title} [{what}]"


def experiment_names() -> list[str]:
    """Every experiment shipped in this package, sorted."""
    return sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".toml"))


def load_experiment(name: str) -> Experiment:
    """The experiment ``name`` (``table7``, ``fig9``, ...) read from its file.

    Raises:
        InputError: no experiment of that name.
        ValueError: a file that does not follow the schema of the module docstring (a packaging bug).
    """
    names = experiment_names()
    if name not in names:
        raise InputError(f"unknown experiment {name!r}; known: {', '.join(names)} (uhr4k experiment --list)")
    text = resources.files(__package__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return parse_experiment(name, tomllib.loads(text), f"uhr4k/experiments/{name}.toml")


def _recipe_name(data: dict, source: str) -> str | None:
    recipe = data.get("recipe")
    if recipe is not None and not isinstance(recipe, str):
        raise ValueError(f"{source}: recipe must name a shipped recipe (uhr4k/recipes/NAME.yml), got {recipe!r}")
    return recipe


# TrainConfig fields each row sets itself (its model, its data, its run folder): an override of one of
# them would be dropped without a word, so it is refused.
PER_ROW_FIELDS = ("model", "data", "out", "subset", "model_kwargs", "val_split", "resume", "progress", "device")


def _overrides(data: dict, source: str, where: str) -> dict:
    overrides = data.get("overrides", {})
    if not isinstance(overrides, dict):
        raise ValueError(f"{source}: {where}overrides must be a table of TrainConfig fields")
    per_row = sorted(set(overrides) & set(PER_ROW_FIELDS))
    if per_row:
        raise ValueError(f"{source}: {where}overrides: {', '.join(per_row)} are set by each row, not by the file")
    return dict(overrides)


def parse_experiment(name: str, data: dict, source: str = "") -> Experiment:
    """An :class:`Experiment` from the parsed TOML ``data`` (checked against the schema)."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{source}: kind must be one of {KINDS}, got {kind!r}")
    rows = tuple(Row(label=r["label"], model=r["model"], kwargs=dict(r.get("kwargs", {})),
                     paper=dict(r.get("paper", {})), ours=bool(r.get("ours", False))) for r in data.get("rows", []))
    if not rows:
        raise ValueError(f"{source}: no [[rows]]")
    datasets = tuple(DatasetSpec(d["preset"], d.get("train", d["preset"]), d.get("label", d["preset"]))
                     for d in data.get("datasets", []))
    if kind == "restoration" and not datasets:
        raise ValueError(f"{source}: a restoration experiment needs [[datasets]]")
    for row in rows:
        for key, value in row.paper.items():
            if kind == "restoration" and (key not in {d.preset for d in datasets} or len(value) != 2):
                raise ValueError(f"{source}: row {row.label!r}: paper.{key} must be [PSNR, SSIM] of a listed dataset")
    smoke_data = data.get("smoke", {})
    unknown = sorted(set(smoke_data) - {"overrides", "size", "pairs", "width", "profile"})
    if unknown:
        raise ValueError(f"{source}: [smoke] has no key {', '.join(unknown)} (TrainConfig fields go in "
                         "[smoke.overrides])")
    smoke = Smoke({**SMOKE_OVERRIDES, **_overrides(smoke_data, source, "smoke.")},
                  size=tuple(smoke_data.get("size", (64, 48))),
                  pairs=dict(smoke_data.get("pairs", {"train": 2, "val": 1, "test": 2})),
                  width=int(smoke_data.get("width", 4)), profile=tuple(smoke_data.get("profile", (64, 48))))
    return Experiment(name=name, title=data["title"], kind=kind, rows=rows, task=data.get("task"),
                      competitors=bool(data.get("competitors", False)), datasets=datasets,
                      recipe=_recipe_name(data, source), overrides=_overrides(data, source, ""), smoke=smoke,
                      profile=tuple(data.get("profile", (3840, 2160))),
                      reading=data.get("reading", "").strip(), source=source,
                      figure=bool(data.get("figure", False)) and kind == "restoration")
