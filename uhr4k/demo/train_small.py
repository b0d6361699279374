"""The demo's small GLSGN: the paper's architecture at a reduced width, trained on this CPU in minutes."""
from __future__ import annotations

from pathlib import Path

from uhr4k.core.runs import LAST_CHECKPOINT, TRAINING_LOG
from uhr4k.data import resolve_dataset

# Fixed steps rather than a wall-clock budget, so a demo's result does not depend on the machine's load;
# this many (with the per-epoch validation) take about a minute on a quiet 2-core machine at 960x540
# (measured: 72 steps of batch 2 at 320x192 plus 12 validations of 4 images in 116 s).
STEPS_PER_MINUTE = 37
BATCH = 2
WIDTH = 8
CROP = (320, 192)   # (width, height) at most; cut to the images and to GLSGN's padding multiple
SUBSET = "rain"     # the demo's most learnable subset in minutes: streaks are local and high-contrast


def train_small_glsgn(dataset: Path, out: Path, minutes: float, size: tuple[int, int], seed: int = 0) -> dict:
    """Train (or resume) the small GLSGN on ``dataset``'s UHR4K-Rain training split.

    The loss is the paper's multi-stage pixel term (eq. 8); the perceptual and adversarial terms are off
    because they need VGG-19 weights the demo does not have (it downloads nothing) and a GAN needs far
    longer than minutes.

    Returns:
        a JSON-able summary with the checkpoint path and the log path.
    """
    from uhr4k.models import create_model
    from uhr4k.models.train.config import TrainConfig
    from uhr4k.models.train.loop import train

    # a crop that is a multiple of what GLSGN pads to wastes no compute on padding
    multiple = create_model("glsgn", width=WIDTH).multiple
    crop = tuple(max(multiple, min(c, s) // multiple * multiple) for c, s in zip(CROP, size, strict=True))
    train_pairs = resolve_dataset(dataset, SUBSET, "train").pairs
    steps_per_epoch = max(1, len(train_pairs) // BATCH)  # the whole split each epoch
    epochs = max(1, round(minutes * STEPS_PER_MINUTE / steps_per_epoch))
    config = TrainConfig(model="glsgn", model_kwargs={"width": WIDTH}, data=str(dataset), subset=SUBSET,
                         out=str(out), loss="glsgn",
                         loss_kwargs={"perceptual_weight": 0.0, "adversarial_weight": 0.0},
                         epochs=epochs, batch=BATCH, lr=5e-4, crop=crop, seed=seed, val_limit=4,
                         resume=(Path(out) / LAST_CHECKPOINT).exists())
    summary = train(config, echo=lambda line: None)
    checkpoint = summary.best_checkpoint or summary.last_checkpoint
    return {"checkpoint": str(checkpoint), "log": str(Path(out) / TRAINING_LOG), "width": WIDTH,
            "subset": SUBSET, "steps": epochs * steps_per_epoch, "minutes": minutes,
            "best_val_psnr": summary.best_psnr}
