"""``uhr4k train``: train a registered model (library call: :func:`uhr4k.models.train.loop.train`).

One process: ``uhr4k train --model glsgn --data ROOT --subset syn --out RUN``. Many GPUs:
``torchrun --nproc_per_node K -m uhr4k train ...`` (DDP; ``--batch`` is per process). A published recipe:
``uhr4k train --config recipes/restormer.yml --data ...`` (see :mod:`uhr4k.commands.recipes`; flags given
on the command line override the file).
"""
from __future__ import annotations

import ast

import click

from uhr4k.commands.options import device_callback, parse_phases, parse_size
from uhr4k.commands.recipes import recipe_defaults
from uhr4k.core.errors import InputError
from uhr4k.core.name_value import parse_name_value


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


def _read_config(ctx: click.Context, param: click.Parameter, value: str | None):
    """Eager: the option file's values become the defaults of every other option (flags override them)."""
    if value is not None:
        ctx.default_map = {**(ctx.default_map or {}), **recipe_defaults(value, ctx.command)}
    return value


def _recipe_options(precision, channels_last, compile_model, optimizer, betas, weight_decay, schedule, schedule_unit,
                    warmup, periods, restart_weights, eta_min, milestones, gamma, decay_start, end_factor, ema,
                    grad_clip, progressive, iterations, tensorboard) -> dict:
    """The recipe flags as TrainConfig fields."""
    floors = parse_numbers(eta_min, "--eta-min")
    return {
        "precision": precision, "channels_last": channels_last, "compile": compile_model,
        "optimizer": {"name": optimizer, "betas": list(parse_numbers(betas, "--betas", 2)),
                      "weight_decay": weight_decay},
        "schedule": {"name": schedule, "unit": schedule_unit, "warmup": warmup,
                     "periods": list(parse_numbers(periods, "--periods")),
                     "restart_weights": list(parse_numbers(restart_weights, "--restart-weights")),
                     "eta_min": floors[0] if len(floors) == 1 else list(floors) or 0.0,
                     "milestones": list(parse_numbers(milestones, "--milestones")), "gamma": gamma,
                     "start": decay_start, "end_factor": end_factor},
        "ema": ema, "grad_clip": grad_clip, "progressive": parse_phases(progressive), "iterations": iterations,
        "tensorboard": tensorboard,
    }


@click.command(name="train")
@click.option("--config", "config_file", default=None, metavar="FILE", is_eager=True, callback=_read_config,
              help="YAML option file (any option below; flags override it), or a shipped recipe: "
                   "recipes/NAME.yml or NAME (one per registered model, with its authors' settings).")
@click.option("--model", default="glsgn", show_default=True, help="Registered model (see `uhr4k models`).")
@click.option("--data", default=None, metavar="ROOT_OR_PRESET",
              help="Dataset root, preset or PRESET=PATH (default: $UHR4K_DATA/UHR4K).")
@click.option("--subset", default=None,
              help="UHR4K subset: syn, rain or real (default with the default data: the model's task's, "
                   "reflection: syn, deraining: rain).")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Run folder (checkpoints, log.csv; default runs/MODEL, where `uhr4k bench` finds best.pt).")
@click.option("--epochs", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True, help="Batch size per process.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=2e-4, show_default=True,
              help="Learning rate (the schedule's peak).")
@click.option("--crop", default="960x540", show_default=True, help="Random crop WIDTHxHEIGHT, or none.")
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
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="DataLoader worker processes.")
@click.option("--val-split", default="val", show_default=True, help="Validation split, or none.")
@click.option("--val-limit", type=click.IntRange(min=1), default=None, help="Validate on the first N pairs only.")
@click.option("--protocol", type=click.Choice(["y", "rgb", "bandwise"]), default=None,
              help="Validation metric protocol (default: the data's).")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=None,
              help="Cap the batches per epoch (smoke runs).")
@click.option("--device", default=None, callback=device_callback,
              help="cpu, cuda, cuda:N (default: the local GPU if any).")
@click.option("--no-augment", is_flag=True, help="No random flips and rotations.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True,
              help="Autocast precision of forward passes and losses (fp16 with a gradient scaler).")
@click.option("--channels-last", is_flag=True, help="Weights and batches in channels-last (NHWC) memory order.")
@click.option("--compile", "compile_model", is_flag=True, help="torch.compile the model for the training steps.")
@click.option("--optimizer", type=click.Choice(["adam", "adamw"]), default="adam", show_default=True)
@click.option("--betas", default="0.9,0.999", show_default=True, help="The optimizer's beta1,beta2.")
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--schedule", type=click.Choice(["constant", "cosine", "multistep", "linear"]), default="constant",
              show_default=True, help="Learning-rate schedule (see uhr4k.models.train.schedules).")
@click.option("--schedule-unit", type=click.Choice(["epoch", "step"]), default="epoch", show_default=True,
              help="What --warmup, --periods, --milestones and --decay-start count.")
@click.option("--warmup", type=float, default=0.0, show_default=True, help="Linear warm-up length.")
@click.option("--periods", default="", help="cosine: cycle lengths P1,P2,... (restarts); empty: one cycle.")
@click.option("--restart-weights", default="", help="cosine: each cycle's peak relative to --lr.")
@click.option("--eta-min", default="0", show_default=True, help="cosine: the floor learning rate (one per cycle).")
@click.option("--milestones", default="", help="multistep: where the rate is multiplied by --gamma.")
@click.option("--gamma", type=float, default=0.1, show_default=True, help="multistep: the factor.")
@click.option("--decay-start", type=float, default=0.0, show_default=True, help="linear: where the decay begins.")
@click.option("--end-factor", type=float, default=0.0, show_default=True, help="linear: final rate / --lr.")
@click.option("--ema", type=float, default=None, help="Keep params_ema with this decay (BasicSR: 0.999).")
@click.option("--grad-clip", type=float, default=None, help="Clip the generator's gradient norm to this.")
@click.option("--progressive", multiple=True, metavar="UNTIL:WxH:BATCH",
              help="Progressive crops (repeatable): until UNTIL (epochs or steps, as --schedule-unit) use crop WxH "
                   "and batch BATCH.")
@click.option("--iterations", type=int, default=None,
              help="Stop after this many optimizer steps (iteration-based recipes; --epochs then only caps).")
@click.option("--tensorboard", is_flag=True, help="Also log to RUN/tensorboard (pip install 'uhr4k[tb]').")
def command(config_file, model, data, subset, out, epochs, batch, lr, crop, resume, init_weights, width, model_args,
            loss, vgg_weights, perc_weight, adv_weight, adv_unconditional, seed, workers, val_split, val_limit,
            protocol, steps_per_epoch, device, no_augment, **recipe):
    """Train a model: validation PSNR/SSIM every epoch; atomic checkpoints; exact --resume; published recipes
    through --config."""
    from uhr4k.app.training import train

    if epochs <= 0 or batch <= 0 or lr <= 0:
        raise InputError("--epochs, --batch and --lr must be positive")
    model_kwargs = parse_model_args(model_args)
    if width is not None:
        model_kwargs["width"] = width
    loss_kwargs = {k: v for k, v in (("vgg_weights", vgg_weights), ("perceptual_weight", perc_weight),
                                     ("adversarial_weight", adv_weight)) if v is not None}
    if adv_unconditional:
        loss_kwargs["conditional"] = False
    summary = train(model, data, out, subset, model_kwargs=model_kwargs, loss=loss, loss_kwargs=loss_kwargs,
                    epochs=epochs, batch=batch, lr=lr, crop=parse_size(crop, "--crop", allow_none=True),
                    augment=not no_augment, seed=seed, workers=workers, val_split=val_split, val_limit=val_limit,
                    protocol=protocol, steps_per_epoch=steps_per_epoch, device=device, resume=resume,
                    init_weights=init_weights, **_recipe_options(**recipe),
                    echo=lambda line: click.echo(line, err=True))
    if summary.rank != 0:
        return  # under torchrun, rank 0 reports
    best = f"; best validation PSNR {summary.best_psnr:.2f} dB ({summary.best_checkpoint})" \
        if summary.best_psnr is not None else ""
    click.echo(f"trained {model} for {summary.epochs} epochs: {summary.last_checkpoint}{best}; "
               f"log {summary.out / 'log.csv'}")
