"""``uhr4k split``: report split leaks and re-draw scene-disjoint splits
(library call: :func:`uhr4k.app.pipelines.split_dataset`)."""
from __future__ import annotations

import click


@click.command(name="split")
@click.argument("root")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the scene draw.")
@click.option("--apply", "apply_", is_flag=True,
              help="Move the files into their new split folders and rewrite manifest.csv (default: report only).")
def command(root, seed, apply_):
    """Report scenes or images shared by several splits of ROOT (a UHR4K root folder or a uhr4k-* preset)
    and draw new scene-disjoint splits with the paper's sizes, scaled to the root's size: Syn/Rain 2,167 =
    2,097 train + 20 val + 50 test, Real 336 = 296 + 20 + 20 (the paper's 2,117 / 316 training pairs are
    train + val)."""
    from uhr4k.app.pipelines import split_dataset  # numpy and OpenCV: loaded when the command runs, not for --help
    summary = split_dataset(root, seed=seed, apply=apply_)
    for line in summary.lines():
        click.echo(line)
