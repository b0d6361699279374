"""One ``torchrun`` process of an experiment's training: ``python -m uhr4k.experiments.train_worker
CONFIG.json`` reads the :class:`~uhr4k.models.train.loop.TrainConfig` the experiment wrote and calls
:func:`~uhr4k.models.train.loop.train` (which joins the process group ``torchrun`` set up), so that every
option of the run, loss options included, reaches each process exactly."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, fields
from pathlib import Path

from uhr4k.models.train.loop import TrainConfig, train


def config_to_json(config: TrainConfig) -> str:
    return json.dumps(asdict(config), indent=1, sort_keys=True)


def config_from_json(text: str) -> TrainConfig:
    data = json.loads(text)
    known = {f.name for f in fields(TrainConfig)}
    if data.get("crop") is not None:
        data["crop"] = tuple(data["crop"])
    return TrainConfig(**{k: v for k, v in data.items() if k in known})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m uhr4k.experiments.train_worker CONFIG.json", file=sys.stderr)
        return 2
    summary = train(config_from_json(Path(args[0]).read_text(encoding="utf-8")))
    return 0 if summary.epochs > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
