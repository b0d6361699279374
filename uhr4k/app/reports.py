"""What the dataset commands say when a job is done: the summary of its run and the next command, computed
from the job's summary (the commands print these lines and nothing else).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from uhr4k import layout
from uhr4k.core.runs import ALIGNMENT_NAME, FAILURES_NAME

if TYPE_CHECKING:   # annotations only: the commands import this module for --help too, without the pipelines
    from uhr4k.align.pipeline import AlignSummary
    from uhr4k.synth.merge import MergeSummary
    from uhr4k.synth.pipeline import BuildSummary


@dataclass(frozen=True)
class Line:
    """One line for the user: ``text``, on stderr when ``err`` (warnings and failures)."""

    text: str
    err: bool = False


def _data_option(summary_root, out) -> str:
    """`` --data ROOT`` for a next command, unless the job wrote into the dataset home (``out`` None),
    where train and bench look without it."""
    return "" if out is None else f" --data {summary_root}"


def build_syn_lines(summary: BuildSummary, out: str | os.PathLike | None = None) -> list[Line]:
    """Warnings and failures, then the counts, then (when pairs were placed) the next commands;
    ``out``: the root the user named (None: the dataset home)."""
    lines = [Line(f"warning: {message}", err=True) for message in summary.messages]
    lines += [Line(f"failed: {failure.line()}", err=True) for failure in summary.failures]
    splits = ", ".join(f"{sub} {split} {n}" for (sub, split), n in sorted(summary.split_pairs.items()))
    lines.append(Line(f"{summary.root}: {summary.planned} backgrounds planned, {summary.made} made, {summary.reused} "
                      f"verified and kept, {summary.rows} pairs ({splits or 'none'}), {len(summary.failures)} "
                      f"failure(s){f' (see {FAILURES_NAME})' if summary.failures else ''}"))
    if summary.rows:
        lines.append(Line("next: `uhr4k align RAW_PAIRS/` adds the real subset beside it; "
                          f"`uhr4k train --model glsgn{_data_option(summary.root, out)}` trains on it"))
    return lines


def align_lines(summary: AlignSummary, out: str | os.PathLike | None = None) -> list[Line]:
    """The verdict counts and where they are, notes, flagged and failed pairs, then (when pairs entered
    the dataset) the next command; ``out`` as :func:`build_syn_lines`."""
    counts = ", ".join(f"{summary.counts.get(s, 0)} {s}" for s in ("ok", "flagged", "failed"))
    splits = ", ".join(f"{n} {s}" for s, n in sorted(summary.splits.items())) or "none"
    lines = [Line(f"{summary.root}: {counts} ({summary.convention}; {summary.reused} reused); dataset pairs: {splits}"),
             Line(f"verdicts in {summary.root / ALIGNMENT_NAME}, QA images in "
                  f"{summary.root / layout.subset('real').name / layout.QA_FOLDER}")]
    lines += [Line(f"note: {message}") for message in summary.messages]
    lines += [Line(f"flagged: {pair_id}: {reason}") for pair_id, reason in summary.flagged]
    lines += [Line(f"failed: {pair_id}: {reason}", err=True) for pair_id, reason in summary.failures]
    if summary.splits:
        lines.append(Line(f"next: `uhr4k bench --model glsgn{_data_option(summary.root, out)}` evaluates on every "
                          "subset of this root"))
    return lines


def merge_lines(summary: MergeSummary) -> list[Line]:
    """What a merge placed and carried over."""
    return [Line(f"{summary.out}: merged {summary.shards} shard(s), {summary.rows} pairs, {summary.linked} files "
                 f"placed, {summary.failures} failure(s) carried over")]
