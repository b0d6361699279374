"""``uhr4k train``: train a registered model (library call: :func:`uhr4k.models.training.train`).

One process: ``uhr4k train --model glsgn --data ROOT --subset syn --out RUN``. Many GPUs:
``torchrun --nproc_per_node K -m uhr4k train ...`` (DDP; ``--batch`` is per process).
"""
from __future__ import annotations

import ast

import click

from uhr4k.commands.options import parse_size
from uhr4k.errors import InputError


def parse_model_args(specs: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs, values as Python literals (``width=8``, ``pn=False``, ``enc_blocks=(0,1,1,1)``)."""
    kwargs = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key.isidentifier():
            raise InputError(f"--model-arg must be KEY=VALUE, got {spec!r}")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value  # a bare word: keep it as a string
    return kwargs


@click.command(name="train")
@click.option("--model", default="glsgn", show_default=True, help="Registered model (see `uhr4k models`).")
@click.option("--data", default=None, metavar="ROOT_OR_PRESET",
              help="Dataset root, preset or PRESET=PATH (default: $UHR4K_DATA/UHR4K).")
@click.option("--subset", default=None,
              help="UHR4K subset: syn, rain or real (default with the default data: the model's task's, "
                   "reflection: syn, deraining: rain).")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Run folder (checkpoints, log.csv; default runs/MODEL, where `uhr4k bench` finds best.pt).")
@click.option("--epochs", type=int, default=500, show_default=True)
@click.option("--batch", type=int, default=4, show_default=True, help="Batch size per process.")
@click.option("--lr", type=float, default=2e-4, show_default=True, help="Adam learning rate.")
@click.option("--crop", default="960x540", show_default=True, help="Random crop WIDTHxHEIGHT, or none.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt.")
@click.option("--init-weights", type=click.Path(), default=None, metavar="PATH",
              help="Start from these weights (fine-tuning): a release as distributed (BasicSR params, "
                   "state_dict, safetensors ...), a uhr4k checkpoint or export folder.")
@click.option("--width", type=int, default=None, help="Model width (GLSGN: channels at the first scale; paper 16).")
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
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader worker processes.")
@click.option("--val-split", default="val", show_default=True, help="Validation split, or none.")
@click.option("--val-limit", type=int, default=None, help="Validate on the first N pairs only.")
@click.option("--protocol", type=click.Choice(["y", "rgb", "bandwise"]), default=None,
              help="Validation metric protocol (default: the data's).")
@click.option("--steps-per-epoch", type=int, default=None, help="Cap the batches per epoch (smoke runs).")
@click.option("--device", default=None, help="cpu, cuda, cuda:N (default: the local GPU if any).")
@click.option("--no-augment", is_flag=True, help="No random flips and rotations.")
def command(model, data, subset, out, epochs, batch, lr, crop, resume, init_weights, width, model_args, loss,
            vgg_weights, perc_weight, adv_weight, adv_unconditional, seed, workers, val_split, val_limit, protocol,
            steps_per_epoch, device, no_augment):
    """Train a model with Adam; validation PSNR/SSIM every epoch; atomic checkpoints; exact --resume."""
    from uhr4k.api import train

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
                    init_weights=init_weights, echo=lambda line: click.echo(line, err=True))
    if summary.rank != 0:
        return  # under torchrun, rank 0 reports
    best = f"; best validation PSNR {summary.best_psnr:.2f} dB ({summary.best_checkpoint})" \
        if summary.best_psnr is not None else ""
    click.echo(f"trained {model} for {summary.epochs} epochs: {summary.last_checkpoint}{best}; "
               f"log {summary.out / 'log.csv'}")
