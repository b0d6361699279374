"""``uhr4k train``: train a registered model (library call: :func:`uhr4k.app.training.train`, whose
:func:`~uhr4k.app.training.training_config` reads the recipe).

One process: ``uhr4k train --model glsgn --data ROOT --subset syn --out RUN``. Many GPUs:
``torchrun --nproc_per_node K -m uhr4k train ...`` (DDP; ``--batch`` is per process). A recipe:
``uhr4k train --config restormer --data ...`` (a shipped recipe by name, or a YAML file of
:class:`~uhr4k.models.train.config.TrainConfig` fields); each flag given on the command line overrides the
field it sets (:data:`FIELDS`), the others keep the recipe's (without ``--config``: TrainConfig's defaults,
which the help shows).
"""
from __future__ import annotations

import ast

import click

from uhr4k.app.training import train, training_config
from uhr4k.commands.options import device_callback, parse_size
from uhr4k.core.errors import InputError
from uhr4k.core.name_value import parse_name_value
from uhr4k.core.runs import TRAINING_LOG

# flag (click parameter name) -> the TrainConfig field it sets: "part.field" inside the optimizer or the
# schedule, "kwargs.key" for one key of model_kwargs or loss_kwargs
FIELDS = {
    "model": "model", "data": "data", "subset": "subset", "out": "out", "epochs": "epochs", "batch": "batch",
    "lr": "lr", "crop": "crop", "resume": "resume", "init_weights": "init_weights", "loss": "loss", "seed": "seed",
    "workers": "workers", "val_split": "val_split", "val_limit": "val_limit", "protocol": "protocol",
    "steps_per_epoch": "steps_per_epoch", "device": "device", "no_augment": "augment", "precision": "precision",
    "channels_last": "channels_last", "compile_model": "compile", "ema": "ema", "grad_clip": "grad_clip",
    "progressive": "progressive", "iterations": "iterations", "tensorboard": "tensorboard",
    "optimizer": "optimizer.name", "betas": "optimizer.betas", "weight_decay": "optimizer.weight_decay",
    "schedule": "schedule.name", "schedule_unit": "schedule.unit", "warmup": "schedule.warmup",
    "periods": "schedule.periods", "restart_weights": "schedule.restart_weights", "eta_min": "schedule.eta_min",
    "milestones": "schedule.milestones", "gamma": "schedule.gamma", "decay_start": "schedule.start",
    "end_factor": "schedule.end_factor",
    "model_args": "model_kwargs", "width": "model_kwargs.width", "vgg_weights": "loss_kwargs.vgg_weights",
    "perc_weight": "loss_kwargs.perceptual_weight", "adv_weight": "loss_kwargs.adversarial_weight",
    "adv_unconditional": "loss_kwargs.conditional",
}
KWARGS = ("model_kwargs", "loss_kwargs")   # free mappings: a flag sets its keys, the recipe's others stay


def parse_model_args(specs: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs, values as Python literals (``width=8``, ``pn=False``, ``enc_blocks=(0,1,1,1)``)."""
    kwargs = {}
    for spec in specs:
        key, value = parse_name_value(spec, "--model-arg", "KEY=VALUE", valid=lambda key, value: key.isidentifier())
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value  # a bare word: keep it as a string
    return kwargs


def parse_numbers(text: str | None, option: str, count: int | None = None) -> tuple[float, ...]:
    """``"0.9,0.999"`` -> (0.9, 0.999); empty -> (); InputError naming ``option`` otherwise."""
    if text is None or str(text).strip() == "":
        return ()
    try:
        values = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise InputError(f"{option}: expected comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise InputError(f"{option}: expected {count} numbers, got {text!r}")
    return values


def parse_phases(specs: tuple[str, ...]) -> list[dict]:
    """``UNTIL:WxH:BATCH`` phases of --progressive (crop or batch may be empty: the run's)."""
    phases = []
    for spec in specs:
        parts = str(spec).split(":")
        if len(parts) != 3:
            raise InputError(f"--progressive must be UNTIL:WxH:BATCH, got {spec!r}")
        try:
            phase = {"until": int(parts[0])}
            if parts[2]:
                phase["batch"] = int(parts[2])
        except ValueError:
            raise InputError(f"--progressive must be UNTIL:WxH:BATCH with whole numbers, got {spec!r}") from None
        if parts[1]:
            phase["crop"] = parse_size(parts[1], "--progressive")
        phases.append(phase)
    return phases


def _floors(text: str) -> tuple[float, ...] | float:
    floors = parse_numbers(text, "--eta-min")
    return floors[0] if len(floors) == 1 else floors


# how a flag's text becomes its field's value (the others are the value click parsed)
PARSERS = {
    "crop": lambda text: parse_size(text, "--crop", allow_none=True),
    "betas": lambda text: parse_numbers(text, "--betas", 2),
    "periods": lambda text: parse_numbers(text, "--periods"),
    "restart_weights": lambda text: parse_numbers(text, "--restart-weights"),
    "milestones": lambda text: parse_numbers(text, "--milestones"),
    "eta_min": _floors,
    "progressive": parse_phases,
    "model_args": parse_model_args,
    "no_augment": lambda flag: False,
    "adv_unconditional": lambda flag: False,
}


def flag_overrides(flags: dict, base) -> dict:
    """The flags given on the command line (not None, a flag that is set, a repeatable one given) as
    :meth:`TrainConfig.override` changes of ``base``: ``--weight-decay 1e-4`` -> ``{"optimizer":
    {"weight_decay": 1e-4}}``; ``--width 8`` -> ``base.model_kwargs`` with ``width`` 8 (``--model-arg`` and the
    loss flags likewise set their keys and keep the recipe's others)."""
    changes: dict = {}
    keys: dict = {}
    for name, value in flags.items():
        if value is None or value is False or value == ():
            continue
        value = PARSERS.get(name, lambda v: v)(value)
        target, _, key = FIELDS[name].partition(".")
        if key:
            keys.setdefault(target, {})[key] = value
        else:
            changes[target] = value
    for target in KWARGS:
        if target in changes or target in keys:
            changes[target] = {**getattr(base, target), **changes.get(target, {}), **keys.pop(target, {})}
    changes.update(keys)                        # a part's fields: override merges them into base's part
    return changes


def flag_of(key: str, command: click.Command) -> str:
    """The flag that sets the config field ``key`` (``schedule.gamma`` -> ``--gamma``, ``progressive[2].until``
    -> ``--progressive``); a field no flag sets: ``--KEY``."""
    key = key.split("[")[0]
    opts = {p.name: p.opts[0] for p in command.params if getattr(p, "opts", None)}
    for candidate in (key, f"{key}.name", key.split(".")[0]):
        for name, target in FIELDS.items():
            if target == candidate:
                return opts[name]
    return f"--{key.replace('_', '-')}"


def configure(spec: str | None, flags: dict, command: click.Command):
    """The TrainConfig of recipe ``spec`` (None: the defaults) with the flags given; a refused flag value
    is an InputError naming the flag."""
    base = training_config(spec)
    try:
        return training_config(base, **flag_overrides(flags, base))
    except InputError as exc:
        if getattr(exc, "key", None) is None:     # not a ConfigError naming a field
            raise
        raise InputError(exc.problem, flag_of(exc.key, command)) from None


@click.command(name="train")
@click.option("--config", "config_spec", default=None, metavar="NAME|FILE",
              help="A recipe: a shipped one by name (one per registered model, with its authors' settings: "
                   "glsgn, restormer, ...; also recipes/NAME.yml) or a YAML file of TrainConfig fields. "
                   "The flags below override it; without it, their defaults.")
@click.option("--model", default=None, show_default="glsgn", help="Registered model (see `uhr4k models`).")
@click.option("--data", default=None, metavar="ROOT_OR_PRESET",
              help="Dataset root, preset or PRESET=PATH (default: $UHR4K_DATA/UHR4K).")
@click.option("--subset", default=None,
              help="UHR4K subset: syn, rain or real (default with the default data: the model's task's, "
                   "reflection: syn, deraining: rain).")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Run folder (checkpoints, log.csv; default runs/MODEL, where `uhr4k bench` finds best.pt).")
@click.option("--epochs", type=int, default=None, show_default="500")
@click.option("--batch", type=int, default=None, show_default="4", help="Batch size per process.")
@click.option("--lr", type=float, default=None, show_default="0.0002", help="Learning rate (the schedule's peak).")
@click.option("--crop", default=None, show_default="960x540", help="Random crop WIDTHxHEIGHT, or none.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt.")
@click.option("--init-weights", type=click.Path(), default=None, metavar="PATH",
              help="Start from these weights (fine-tuning): a release as distributed (BasicSR params, "
                   "state_dict, safetensors ...), a uhr4k checkpoint or export folder.")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Model width (GLSGN: channels at the first scale; paper 16).")
@click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="Further constructor argument (repeatable), e.g. num_local_pathways=2.")
@click.option("--loss", default=None, help="Loss name (default: the model's published loss).")
@click.option("--vgg-weights", type=click.Path(dir_okay=False), default=None,
              help="torchvision VGG-19 state dict for the perceptual loss (or $UHR4K_VGG19_WEIGHTS).")
@click.option("--perc-weight", type=float, default=None, help="glsgn loss: weight of L_perc (paper 0.01).")
@click.option("--adv-weight", type=float, default=None, help="glsgn loss: weight of L_adv (paper 0.01).")
@click.option("--adv-unconditional", is_flag=True,
              help="glsgn loss: the discriminator sees the restored image alone (default: the (input, image) pair).")
@click.option("--seed", type=int, default=None, show_default="0")
@click.option("--workers", type=int, default=None, show_default="0", help="DataLoader worker processes.")
@click.option("--val-split", default=None, show_default="val", help="Validation split, or none.")
@click.option("--val-limit", type=int, default=None, help="Validate on the first N pairs only.")
@click.option("--protocol", default=None, metavar="[y|rgb|bandwise]",
              help="Validation metric protocol (default: the data's).")
@click.option("--steps-per-epoch", type=int, default=None, help="Cap the batches per epoch (smoke runs).")
@click.option("--device", default=None, callback=device_callback,
              help="cpu, cuda, cuda:N (default: the local GPU if any).")
@click.option("--no-augment", is_flag=True, help="No random flips and rotations.")
@click.option("--precision", default=None, metavar="[fp32|bf16|fp16]", show_default="fp32",
              help="Autocast precision of forward passes and losses (fp16 with a gradient scaler).")
@click.option("--channels-last", is_flag=True, help="Weights and batches in channels-last (NHWC) memory order.")
@click.option("--compile", "compile_model", is_flag=True, help="torch.compile the model for the training steps.")
@click.option("--optimizer", default=None, metavar="[adam|adamw]", show_default="adam")
@click.option("--betas", default=None, show_default="0.9,0.999", help="The optimizer's beta1,beta2.")
@click.option("--weight-decay", type=float, default=None, show_default="0.0")
@click.option("--schedule", default=None, metavar="[constant|cosine|multistep|linear]", show_default="constant",
              help="Learning-rate schedule (see uhr4k.models.train.schedules).")
@click.option("--schedule-unit", default=None, metavar="[epoch|step]", show_default="epoch",
              help="What --warmup, --periods, --milestones and --decay-start count.")
@click.option("--warmup", type=float, default=None, show_default="0.0", help="Linear warm-up length.")
@click.option("--periods", default=None, help="cosine: cycle lengths P1,P2,... (restarts); empty: one cycle.")
@click.option("--restart-weights", default=None, help="cosine: each cycle's peak relative to --lr.")
@click.option("--eta-min", default=None, show_default="0.0", help="cosine: the floor learning rate (one per cycle).")
@click.option("--milestones", default=None, help="multistep: where the rate is multiplied by --gamma.")
@click.option("--gamma", type=float, default=None, show_default="0.1", help="multistep: the factor.")
@click.option("--decay-start", type=float, default=None, show_default="0.0", help="linear: where the decay begins.")
@click.option("--end-factor", type=float, default=None, show_default="0.0", help="linear: final rate / --lr.")
@click.option("--ema", type=float, default=None, help="Keep params_ema with this decay (BasicSR: 0.999).")
@click.option("--grad-clip", type=float, default=None, help="Clip the generator's gradient norm to this.")
@click.option("--progressive", multiple=True, metavar="UNTIL:WxH:BATCH",
              help="Progressive crops (repeatable): until UNTIL (epochs or steps, as --schedule-unit) use crop WxH "
                   "and batch BATCH.")
@click.option("--iterations", type=int, default=None,
              help="Stop after this many optimizer steps (iteration-based recipes; --epochs then only caps).")
@click.option("--tensorboard", is_flag=True, help="Also log to RUN/tensorboard (pip install 'uhr4k[tb]').")
@click.pass_context
def command(ctx, config_spec, **flags):
    """Train a model: validation PSNR/SSIM every epoch; atomic checkpoints; exact --resume; published recipes
    through --config."""
    config = configure(config_spec, flags, ctx.command)
    summary = train(config=config, echo=lambda line: click.echo(line, err=True))
    if summary.rank != 0:
        return  # under torchrun, rank 0 reports
    best = f"; best validation PSNR {summary.best_psnr:.2f} dB ({summary.best_checkpoint})" \
        if summary.best_psnr is not None else ""
    click.echo(f"trained {config.model} for {summary.epochs} epochs: {summary.last_checkpoint}{best}; "
               f"log {summary.out / TRAINING_LOG}")
