"""The file names of a training run's folder and of a pipeline's record of failures, spelled once.

::

    runs/NAME/            RUNS_DIR / model name: where `uhr4k train` writes and `uhr4k bench` looks
      last.pt             LAST_CHECKPOINT: written after every epoch (resume reads it)
      best.pt             BEST_CHECKPOINT: the best validation PSNR so far
      log.csv             TRAINING_LOG: one row per epoch
      val_preview.png     VALIDATION_PREVIEW
    ROOT/failures.csv     FAILURES_NAME: one row per failed item of a pipeline
    ROOT/alignment.csv    ALIGNMENT_NAME: one row per capture pair of `uhr4k align`
"""
from __future__ import annotations

RUNS_DIR = "runs"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
TRAINING_LOG = "log.csv"
VALIDATION_PREVIEW = "val_preview.png"
FAILURES_NAME = "failures.csv"
ALIGNMENT_NAME = "alignment.csv"
