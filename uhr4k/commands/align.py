"""``uhr4k align RAW_DIR [--out ROOT]``: register glass / no-glass photo pairs into UHR4K-Real."""
from __future__ import annotations

import click

from uhr4k.app.reports import align_lines
from uhr4k.commands.card_options import card_arguments, card_options
from uhr4k.commands.echo import echo_lines
from uhr4k.commands.options import parse_size


@click.command(name="align")
@click.argument("raw_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--out", "out", default=None, type=click.Path(file_okay=False, path_type=str),
              help="Dataset root: writes UHR4K-Real/, alignment.csv and the manifest rows there "
                   "(default: $UHR4K_DATA/UHR4K, beside build-syn's subsets).")
@click.option("--test", default=20, show_default=True, type=click.IntRange(min=0),
              help="Test pairs (whole scenes; the paper's 20 of 336).")
@click.option("--val", default=20, show_default=True, type=click.IntRange(min=0),
              help="Validation pairs, carved from the paper's 316 training pairs (whole scenes).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the estimation and the split.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--method", type=click.Choice(["ours", "paper"]), default="ours", show_default=True,
              help="Homography estimate: ours (grid ORB at 1.5 MP, MAGSAC, guided re-matching) or the paper's "
                   "(ORB at full resolution, RANSAC). Gates, QA and files are the same; alignment.csv records it.")
@click.option("--refine", type=click.Choice(["none", "ecc"]), default="none", show_default=True,
              help="Extra full-resolution refinement on top of guided re-matching (ECC costs seconds per 4K pair).")
@click.option("--size", default=None, metavar="WxH", help="Crop every pair to this size (cropping only, centred).")
@click.option("--min-inliers", default=50, show_default=True, type=click.IntRange(min=8),
              help="Fewer feature inliers: the pair fails.")
@click.option("--max-rmse", default=0.5, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Residual (px, full resolution) above which a pair is flagged (parallax).")
@card_options
@click.pass_context
def command(ctx, raw_dir, out, test, val, seed, workers, method, refine, size, min_inliers, max_rmse, license_,
            source_licenses):
    """Register the glass / no-glass pairs of RAW_DIR into ROOT/UHR4K-Real.

    RAW_DIR holds glass/ and noglass/ folders (files paired by stem), or one folder per scene with
    names ending in _glass/_noglass (_blended/_transmission, _m/_g). Every pair gets a row in
    ROOT/alignment.csv (ok, flagged or failed, with the reason) and a QA image in UHR4K-Real/qa/;
    only ok pairs enter the dataset. Exit status 1 when a pair failed.
    """
    from uhr4k.app.pipelines import align_pairs  # numpy and OpenCV: loaded when the command runs, not for --help
    summary = align_pairs(raw_dir, out, test=test, val=val, seed=seed, workers=workers, method=method, refine=refine,
                          size=parse_size(size, "--size", allow_none=True), min_inliers=min_inliers,
                          max_rmse=max_rmse, **card_arguments(ctx))
    echo_lines(align_lines(summary, out))
    if summary.card_error is not None:
        raise summary.card_error
    if not summary.ok:
        raise SystemExit(1)
