"""The ``uhr4k`` command line: a click group that loads each command from ``uhr4k.commands`` on use.

Commands stay thin (parse options, call one library function, print its summary). Loading them lazily
keeps ``uhr4k --help`` fast (no torch import) and lets each command live in a module of its own.
A user error (:class:`uhr4k.core.errors.InputError`) prints one line and exits with status 2, never a traceback.
"""
from __future__ import annotations

import importlib
import sys

import click

from uhr4k.core.allocator import reuse_freed_memory
from uhr4k.core.errors import DISK_ERRORS, InputError

# name -> (module in uhr4k.commands, one-line help shown by `uhr4k --help`)
COMMANDS = {
    "build-syn": ("build_syn", "Build UHR4K-Syn and UHR4K-Rain from 4K videos and reflection images."),
    "merge": ("merge", "Merge dataset shards built with --shard i/n into one root."),
    "align": ("align", "Register glass / no-glass photo pairs into UHR4K-Real."),
    "split": ("split", "Re-draw scene-disjoint splits of a dataset root and report leaks."),
    "cache": ("cache", "Prepare a fast random-crop form of a dataset for training."),
    "pack": ("pack", "Pack a UHR4K root as WebDataset shards or a Hugging Face dataset, with a card."),
    "bench": ("bench", "Evaluate models on datasets: PSNR/SSIM, runtime, memory, tables and grids."),
    "models": ("models", "List registered models with parameters and MACs at 4K."),
    "train": ("train", "Train a model (one CPU, or many GPUs with torchrun)."),
    "export": ("export", "Write a checkpoint's weights as model.safetensors + config.json (a Hub-style folder)."),
    "experiment": ("experiment", "Run one experiment of the paper end to end and write its table beside the paper's."),
    "attention": ("attention", "Write GLSGN's perceptual-attention maps of each pathway as images (Figure 8)."),
    "demo": ("demo", "Run the whole pipeline end to end on built-in material and write report.html."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module_name, short_help = COMMANDS[name]
        try:
            module = importlib.import_module(f"uhr4k.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"uhr4k.commands.{module_name}":
                raise

            @click.command(name=name, short_help=short_help, help=f"{short_help} (not available in this version)")
            def unavailable():
                raise click.ClickException(f"'{name}' is not available in this version of uhr4k")
            return unavailable
        cmd = module.command
        cmd.short_help = short_help
        return cmd

    def invoke(self, ctx):
        reuse_freed_memory()    # 4K tensors reuse freed memory instead of page-faulting (uhr4k.core.allocator)
        try:
            return super().invoke(ctx)
        except InputError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)
            ctx.exit(2)
        except OSError as exc:
            if exc.errno not in DISK_ERRORS:
                raise
            # a write outside the atomic helpers (which say the same themselves)
            click.echo(f"error: {exc.filename or 'output'}: {DISK_ERRORS[exc.errno]}", err=True)
            ctx.exit(2)


def one_line(message: str) -> str:
    """An InputError's line; one raised in a DataLoader worker arrives wrapped in the worker's traceback,
    whose last line is the original ``uhr4k.core.errors.InputError: <file>: <reason>``."""
    if "Traceback" not in message:
        return message
    last = [line for line in message.strip().splitlines() if line.strip()][-1]
    return last.split("InputError: ", 1)[-1].strip()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="uhr4k")
def cli():
    """uhr4k: build the UHR4K dataset, benchmark restoration models on it, and train GLSGN.

    Run `uhr4k COMMAND --help` for the options of each command.
    """


def main(argv=None):
    cli.main(args=argv, prog_name="uhr4k")


if __name__ == "__main__":
    sys.exit(main())
