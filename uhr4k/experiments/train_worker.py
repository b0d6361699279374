"""One ``torchrun`` process of an experiment's training: ``python -m uhr4k.experiments.train_worker
CONFIG.json`` reads the :class:`~uhr4k.models.train.config.TrainConfig` the experiment wrote (its
``to_dict``) and calls :func:`~uhr4k.models.train.loop.train` (which joins the process group ``torchrun``
set up), so that every option of the run, loss options included, reaches each process exactly."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from uhr4k.models.train.config import TrainConfig
from uhr4k.models.train.loop import train


def config_to_json(config: TrainConfig) -> str:
    return json.dumps(config.to_dict(), indent=1, sort_keys=True)


def config_from_json(text: str, source=None) -> TrainConfig:
    return TrainConfig.from_dict(json.loads(text), source)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m uhr4k.experiments.train_worker CONFIG.json", file=sys.stderr)
        return 2
    summary = train(config_from_json(Path(args[0]).read_text(encoding="utf-8"), args[0]))
    return 0 if summary.epochs > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
