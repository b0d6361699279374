"""Training: the loop behind ``uhr4k train``, on one CPU/GPU or many GPUs with ``torchrun`` (DDP).

- Data: :func:`uhr4k.data.resolve_dataset` (the pairs, and the protocol ``bench`` scores them with) and
  :class:`PairedDataset` (seeded random crops, flips and rotations), a :class:`DistributedSampler` in
  every case (one replica when not distributed), so that ``K`` processes with batch ``b`` see exactly the
  samples of one process with batch ``K * b``.
- Optimizer: Adam (betas 0.9, 0.999) by default, the paper's lr 2e-4, or AdamW, with betas and weight
  decay (:class:`uhr4k.models.train.schedules.OptimizerSpec`); a loss with a discriminator (``glsgn``) gets a
  second one for it, stepped after the generator with the hinge loss. A learning-rate schedule
  (:class:`~uhr4k.models.train.schedules.Schedule`: constant, cosine with warm-up and restarts, multistep,
  linear), gradient clipping, an EMA of the weights (``params_ema``, validated and checkpointed beside
  ``params``), progressive crop sizes, and autocast in bf16/fp16 (fp16 with a gradient scaler),
  channels-last and ``torch.compile`` (:class:`uhr4k.core.speed.Speed`).
- Every epoch: validation PSNR/SSIM (the data's protocol) on the validation split, a preview strip of
  the first validation image (``<out>/val_preview.png``: input | output | target, captioned with PSNR /
  SSIM), a row in ``<out>/log.csv``, ``<out>/last.pt`` (and ``best.pt`` on a better validation PSNR), all
  written atomically; with ``tensorboard`` also scalars and the preview in ``<out>/tensorboard``.
- ``resume``: continues from ``last.pt`` exactly (model, optimizers, epoch; data randomness depends on
  ``(seed, epoch, index)`` only), refusing a checkpoint of another model or configuration.
- Distributed: launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), NCCL on GPUs, gloo on
  CPU; rank 0 validates, logs and writes checkpoints.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from uhr4k.benchmark import report
from uhr4k.benchmark.metrics import psnr_torch, ssim_torch
from uhr4k.core.atomic import remove_stale_temporaries
from uhr4k.core.errors import InputError
from uhr4k.core.images import from_float, read_image, write_image
from uhr4k.core.locks import acquire_lock
from uhr4k.core.runs import BEST_CHECKPOINT, LAST_CHECKPOINT, TRAINING_LOG, VALIDATION_PREVIEW
from uhr4k.core.speed import Speed
from uhr4k.core.tables import read_csv_rows, write_csv
from uhr4k.data import PairedDataset, find_pairs, resolve_dataset
from uhr4k.data.dataset import collate_transport, unit_float
from uhr4k.models.factory import create_model
from uhr4k.models.losses import build_loss, discriminator_value, loss_value
from uhr4k.models.losses.terms import split_outputs
from uhr4k.models.train.config import TrainConfig
from uhr4k.models.train.ema import ModelEMA
from uhr4k.models.train.schedules import OptimizerSpec, Schedule, set_lr
from uhr4k.models.weights.checkpoint import load_checkpoint, save_checkpoint, unwrap
from uhr4k.models.weights.load import load_pretrained

LAST, BEST, LOG, PREVIEW = LAST_CHECKPOINT, BEST_CHECKPOINT, TRAINING_LOG, VALIDATION_PREVIEW
PREVIEW_WIDTH = 640


@dataclass
class TrainSummary:
    out: Path
    epochs: int
    last_checkpoint: Path
    best_checkpoint: Path | None
    best_psnr: float | None
    rows: list = field(default_factory=list)
    model: nn.Module | None = None          # the trained model (this process's replica)
    rank: int = 0                           # this process's rank (0 reports)


# ------------------------------------------------------------------------------------ distributed


def _distributed_setup(device: str | None) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when torchrun started us."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    world = dist.get_world_size() if dist.is_initialized() else 1
    return rank, world, device


def _all_agree(flag: bool, world: int, device: torch.device) -> bool:
    """Rank 0's decision, shared by every rank (clocks differ between processes)."""
    if world == 1:
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.broadcast(value, 0)
    return bool(value.item())


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


# ------------------------------------------------------------------------------------------ pieces


def config_record(config: TrainConfig) -> dict:
    """The checkpoint's ``config``: model name and kwargs (the load_model contract) plus the run's settings,
    as plain data (the optimizer and the schedule in full, so that {} and the same settings spelt out are
    one recipe)."""
    record = {"model": config.model, "kwargs": dict(config.model_kwargs)}
    settings = config.to_dict()
    record["run"] = {k: settings[k] for k in RECORDED}
    # Where the VGG weights lie is not part of the configuration (a moved file must not block a resume).
    record["run"]["loss_kwargs"] = {k: v for k, v in config.loss_kwargs.items() if k != "vgg_weights"}
    return record


# What a checkpoint records of its run, and which of those an exact resume must share (the recipe).
RECORDED = ("loss", "batch", "lr", "crop", "augment", "seed", "subset", "data", "init_weights", "epochs", "optimizer",
            "schedule", "ema", "grad_clip", "progressive", "precision", "iterations")
RECIPE = ("loss", "loss_kwargs", "batch", "crop", "seed", "lr", "optimizer", "schedule", "ema", "grad_clip",
          "progressive", "precision", "iterations")


def _check_resumable(checkpoint: dict, config: TrainConfig, path: Path, world: int) -> None:
    saved = checkpoint["config"]
    wanted = config_record(config)
    if saved.get("model") != wanted["model"]:
        raise InputError(f"checkpoint holds model {saved.get('model')!r}, this run trains {config.model!r}", path)
    if saved.get("kwargs") != wanted["kwargs"]:
        raise InputError(f"checkpoint holds {config.model} with {saved.get('kwargs')}, this run asks for "
                         f"{wanted['kwargs']}", path)
    run = saved.get("run", {})
    keys = [k for k in RECIPE if k in run or k in ("loss", "loss_kwargs", "batch", "crop", "seed")]
    if config.schedule.depends_on_length and "epochs" in run:
        keys.append("epochs")  # the curve of a cosine or linear schedule spans the whole run
    for key in keys:
        if _as_written_now(key, run.get(key)) != wanted["run"][key]:
            raise InputError(f"checkpoint was trained with {key}={saved['run'].get(key)!r}, this run has "
                             f"{wanted['run'][key]!r} (an exact resume needs the same)", path)
    if checkpoint.get("world_size", 1) != world:
        raise InputError(f"checkpoint was trained by {checkpoint.get('world_size')} processes, this run has {world}",
                         path)


def _as_written_now(key: str, saved):
    """A checkpoint's optimizer or schedule record in today's spelling (an older record may hold a one-element
    ``eta_min`` list that the schedule now writes as a number), so that equal settings compare equal."""
    parts = {"optimizer": OptimizerSpec, "schedule": Schedule}
    if key in parts and isinstance(saved, dict):
        try:
            return parts[key].from_dict(saved).to_dict()
        except (InputError, TypeError, ValueError):
            return saved          # not readable as today's: compared as written, refused as different
    return saved


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return read_csv_rows(path)[1]


def write_log(path: Path, rows: list[dict]) -> None:
    """The whole log, rewritten atomically; its columns are every key of the rows, first seen first (a
    later epoch may add one, e.g. a validation PSNR)."""
    write_csv(path, rows)


@torch.no_grad()
def validate(model: nn.Module, dataset: PairedDataset, protocol: str, device: torch.device,
             limit: int | None = None, preview: Path | None = None) -> tuple[float, float]:
    """Mean PSNR and SSIM (``protocol``) of the model's final output over the dataset's images, in eval
    mode; the model is handed back in the mode it came in (an EMA copy stays in eval).

    With ``preview``, the first image's input | output | target strip is written there (PNG, at most
    ``PREVIEW_WIDTH`` pixels wide per panel), so that a run can be looked at while it trains.
    """
    was_training = model.training
    model.eval()
    psnrs, ssims = [], []
    for i in range(len(dataset) if limit is None else min(limit, len(dataset))):
        item = dataset[i]
        x, y = item["input"][None].to(device), item["target"][None].to(device)
        final, _ = split_outputs(model(x))
        final = final.clamp(0, 1)
        psnrs.append(float(psnr_torch(final, y, protocol)[0]))
        ssims.append(float(ssim_torch(final, y, protocol)[0]))
        if i == 0 and preview is not None:
            write_preview(preview, x, final, y, protocol)
    model.train(was_training)
    finite = [p for p in psnrs if math.isfinite(p)]
    return (sum(finite) / len(finite) if finite else float("inf")), sum(ssims) / len(ssims)


def preview_image(x: torch.Tensor, output: torch.Tensor, target: torch.Tensor, protocol: str) -> np.ndarray:
    """input | output | target of (1, 3, H, W) images in [0, 1], captioned with the PSNR / SSIM of input and
    output against the target (``protocol``, as the log's val_psnr), panels at most ``PREVIEW_WIDTH`` wide:
    (H', W', 3) uint8."""
    panels = []
    for name, image in (("input", x), ("output", output)):
        image = image.float().clamp(0, 1)
        value_psnr = float(psnr_torch(image, target, protocol)[0])
        value_ssim = float(ssim_torch(image, target, protocol)[0])
        panels.append((f"{name}\n{value_psnr:.2f} dB / {value_ssim:.4f}", image))
    panels.append((f"target\n({protocol})", target))
    panels = [(caption, from_float(t[0].permute(1, 2, 0).float().cpu().numpy())) for caption, t in panels]
    width = min(PREVIEW_WIDTH, panels[0][1].shape[1])
    return report.comparison_grid(panels, panel_width=width, columns=3)


def write_preview(path: Path, x: torch.Tensor, output: torch.Tensor, target: torch.Tensor, protocol: str) -> None:
    write_image(path, preview_image(x, output, target, protocol))


# ---------------------------------------------------------------------------------------- the run


@dataclass
class Run:
    """Everything one training run is made of (:func:`build_run`) and where it stands."""

    config: TrainConfig
    rank: int
    world: int
    device: torch.device
    model: nn.Module                        # the model itself (checkpoints, validation)
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer | None
    train_set: PairedDataset
    sampler: DistributedSampler
    loader: DataLoader
    val_set: PairedDataset | None
    protocol: str
    schedule: Schedule = field(default_factory=Schedule)
    speed: Speed = field(default_factory=Speed)
    ema: ModelEMA | None = None
    scaler: torch.amp.GradScaler | None = None      # fp16: the generator's gradient scaler
    d_scaler: torch.amp.GradScaler | None = None    # fp16: the discriminator's
    trained: nn.Module | None = None        # what the steps call: the model, its DDP wrapper, compiled
    epoch: int = 0                          # epochs done
    step: int = 0                           # optimizer steps done (the unit of step schedules)
    rows: list = field(default_factory=list)
    best_psnr: float | None = None
    writer: object | None = None            # a TensorBoard SummaryWriter (rank 0, --tensorboard)
    phase: tuple | None = None              # (crop, batch) the loader was built for

    @property
    def main_process(self) -> bool:
        return self.rank == 0

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def discriminator(self) -> nn.Module | None:
        return getattr(self.criterion, "discriminator", None)

    @property
    def finished(self) -> bool:
        """The recipe's iterations are done (iteration-based recipes end inside an epoch)."""
        return self.config.iterations is not None and self.step >= self.config.iterations


def build_run(config: TrainConfig, echo=print) -> Run:
    """Join the process group, check the output folder, build model, loss, optimizers and data."""
    if config.data is None or config.out is None:
        raise InputError("a training needs its data and its run folder (TrainConfig data= and out=)")
    rank, world, device = _distributed_setup(config.device)
    out = Path(config.out)
    if (out / LAST).exists() and not config.resume:
        raise InputError(f"a run is already there ({LAST}): use --resume to continue it, or another --out", out)
    if config.resume and not (out / LAST).exists():
        raise InputError(f"nothing to resume: no {LAST}", out)
    speed = Speed(config.precision, config.channels_last, config.compile)
    model, criterion, config = _build_model_and_loss(config)
    model.to(device)
    criterion.to(device)
    if speed.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = config.optimizer.build(model.parameters(), config.lr)
    disc = getattr(criterion, "discriminator", None)
    d_optimizer = config.optimizer.build(disc.parameters(), config.lr) if disc is not None else None
    crop, batch = phase_of(config, 0)
    train_set, sampler, loader, protocol = _build_training_data(config, rank, world, device, crop, batch)
    val_set = _build_validation_data(config, echo if rank == 0 else (lambda line: None))
    fp16 = speed.precision == "fp16"
    return Run(config, rank, world, device, model, criterion, optimizer, d_optimizer, train_set, sampler, loader,
               val_set, config.protocol or protocol, schedule=config.schedule, speed=speed,
               ema=ModelEMA(model, config.ema) if config.ema else None,
               scaler=torch.amp.GradScaler(device.type) if fp16 else None,
               d_scaler=torch.amp.GradScaler(device.type) if fp16 and disc is not None else None,
               phase=(crop, batch))


def phase_of(config: TrainConfig, position: int) -> tuple[tuple[int, int] | None, int]:
    """(crop, batch) at ``position`` (0-based epoch or step, the schedule's unit): the first progressive
    phase whose ``until`` (exclusive) lies ahead, else the run's ``crop`` and ``batch`` (Restormer's
    progressive patch sizes)."""
    for phase in config.progressive:
        if position < phase.until:
            return (phase.crop or config.crop), (phase.batch or config.batch)
    return config.crop, config.batch


def _build_model_and_loss(config: TrainConfig) -> tuple[nn.Module, nn.Module, TrainConfig]:
    """The model (seeded: the same initial weights on every rank), its loss, and the config with the loss named."""
    torch.manual_seed(config.seed)  # DDP also broadcasts rank 0's weights; this keeps single runs reproducible
    model = create_model(config.model, **config.model_kwargs)
    if config.init_weights is not None:
        if config.resume:
            raise InputError("--init-weights starts a run from given weights; --resume continues one: not both")
        load_pretrained(model, config.model, config.init_weights)   # strictly, any release format
    loss_name = config.loss or getattr(model, "default_loss", None)
    if loss_name is None or not any(p.requires_grad for p in model.parameters()):
        raise InputError(f"model {config.model!r} has no trainable parameters: nothing to train")
    try:
        criterion = build_loss(loss_name, **config.loss_kwargs)
    except TypeError:
        raise InputError(f"loss {loss_name!r} does not take the options {sorted(config.loss_kwargs)}") from None
    return model, criterion, replace(config, loss=loss_name)  # the caller's config stays as given


def _build_training_data(config: TrainConfig, rank: int, world: int, device: torch.device, crop, batch: int):
    """(dataset, sampler, loader, the data's protocol) of the training split with ``crop`` and ``batch``;
    the sampler shards it over the processes."""
    train_data = resolve_dataset(config.data, config.subset, "train")
    pairs = train_data.pairs
    train_set = PairedDataset(pairs, crop=crop, augment=config.augment, seed=config.seed, transport=True)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=config.seed,
                                 drop_last=True)
    if len(sampler) < batch:
        raise InputError(f"{len(pairs)} training pairs cannot fill a batch of {batch} on {world} "
                         f"process(es)", train_data.root)
    loader = DataLoader(train_set, batch_size=batch, sampler=sampler, num_workers=config.workers,
                        collate_fn=collate_transport, drop_last=True, pin_memory=device.type == "cuda",
                        persistent_workers=config.workers > 0)
    return train_set, sampler, loader, train_data.protocol


def _build_validation_data(config: TrainConfig, echo) -> PairedDataset | None:
    if config.val_split in (None, "", "none"):
        return None
    try:
        return PairedDataset(find_pairs(config.data, config.subset, config.val_split))
    except InputError as exc:
        echo(f"note: no validation ({exc}); checkpoints are kept as last.pt only")
        return None


def resume_run(run: Run, echo=print) -> None:
    """Load ``last.pt`` into the run (model, optimizers, epoch, best PSNR, log rows), refusing another
    model or configuration. Data randomness depends on ``(seed, epoch, index)`` only, so the run then
    continues exactly as if it had never stopped."""
    last_path = run.out / LAST
    checkpoint = load_checkpoint(last_path)
    _check_resumable(checkpoint, run.config, last_path, run.world)
    run.model.load_state_dict(checkpoint["params"])
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    if run.discriminator is not None:
        run.discriminator.load_state_dict(checkpoint["discriminator"])
        run.d_optimizer.load_state_dict(checkpoint["discriminator_optimizer"])
    if run.ema is not None:
        run.ema.load_state_dict(checkpoint["params_ema"])
    for name in ("scaler", "d_scaler"):
        if getattr(run, name) is not None:
            getattr(run, name).load_state_dict(checkpoint[name])
    run.epoch = int(checkpoint["epoch"])
    run.step = int(checkpoint.get("step", 0))
    run.best_psnr = checkpoint.get("best_psnr")
    # the checkpoint carries the log up to its epoch: a kill between writing last.pt and log.csv loses
    # no row (older checkpoints: the log file's rows up to that epoch)
    run.rows = [dict(r) for r in checkpoint.get("log") or
                [r for r in read_log(run.out / LOG) if int(r["epoch"]) <= run.epoch]]
    if run.main_process:
        write_log(run.out / LOG, run.rows)
    if run.main_process:
        echo(f"resuming {run.config.model} at epoch {run.epoch} from {last_path}")


def distribute(run: Run) -> None:
    """Wrap model and discriminator in DDP when several processes train (``run.trained`` is what steps call)."""
    run.trained = run.model
    if run.world > 1:
        ids = [run.device.index] if run.device.type == "cuda" else None
        # Some parameters may not reach a loss (an ablation without LP under a final-image loss leaves S1's
        # output convolution out): let DDP look for them instead of waiting for their gradients forever.
        run.trained = DistributedDataParallel(run.model, device_ids=ids, find_unused_parameters=True)
        if run.discriminator is not None:
            run.criterion.discriminator = DistributedDataParallel(run.discriminator, device_ids=ids)
    if run.speed.compile:
        run.trained = torch.compile(run.trained)


def undistribute(run: Run) -> None:
    if run.discriminator is not None:
        run.criterion.discriminator = unwrap(run.criterion.discriminator)
    run.trained = run.model


# ------------------------------------------------------------------------------------------- epochs


def _backward_and_step(loss: torch.Tensor, optimizer, scaler, params=None, clip: float | None = None) -> None:
    """``loss.backward()`` and ``optimizer.step()``, through the fp16 gradient scaler when there is one, with
    the gradient norm of ``params`` clipped to ``clip`` (on unscaled gradients)."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        return
    scaler.scale(loss).backward()
    if clip is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, clip)
    scaler.step(optimizer)
    scaler.update()


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """One optimizer step of the generator (and then of the discriminator, if any): the loss parts.

    Forward passes and losses run under the run's autocast; the EMA follows every generator step.
    """
    x, y = run.speed.prepare_input(x), run.speed.prepare_input(y)
    with run.speed.autocast(run.device):
        # A model whose training branch reads the ground truth (DerainRLNet's feedback) declares it.
        outputs = run.trained(x, target=y) if getattr(run.model, "trains_with_target", False) else run.trained(x)
        total, parts = loss_value(run.criterion, outputs, y, x)
    _backward_and_step(total, run.optimizer, run.scaler, run.model.parameters(), run.config.grad_clip)
    if run.ema is not None:
        run.ema.update(run.model)
    if run.d_optimizer is not None:
        # zero_grad inside drops the gradients the generator step left on D
        with run.speed.autocast(run.device):
            d_loss = discriminator_value(run.criterion, outputs, y, x)
        _backward_and_step(d_loss, run.d_optimizer, run.d_scaler)
        parts["discriminator"] = d_loss.item()
    run.step += 1
    return parts


def _set_learning_rate(run: Run, epoch: int, steps_per_epoch: int) -> float:
    """The schedule's rate at this epoch / step, set on both optimizers; returns it."""
    if run.schedule.unit == "epoch":
        lr = run.schedule.lr(run.config.lr, epoch, run.config.epochs)
    else:
        lr = run.schedule.lr(run.config.lr, run.step, run.config.iterations or run.config.epochs * steps_per_epoch)
    for optimizer in (run.optimizer, run.d_optimizer):
        if optimizer is not None:
            set_lr(optimizer, lr)
    return lr


def _enter_phase(run: Run, epoch: int) -> None:
    """Rebuild the loader when a progressive phase starts (another crop size or batch)."""
    phase = phase_of(run.config, epoch if run.schedule.unit == "epoch" else run.step)
    if phase == run.phase:
        return
    crop, batch = phase
    run.train_set, run.sampler, run.loader, _ = _build_training_data(run.config, run.rank, run.world, run.device,
                                                                     crop, batch)
    run.phase = phase


def train_one_epoch(run: Run, epoch: int) -> tuple[int, dict[str, float]]:
    """Epoch ``epoch`` (0-based) over this process's shard: (steps taken, mean of each loss part)."""
    config = run.config
    _enter_phase(run, epoch)
    run.sampler.set_epoch(epoch)
    run.train_set.set_epoch(epoch)
    run.model.train()
    run.criterion.train()
    steps = len(run.loader) if config.steps_per_epoch is None else min(config.steps_per_epoch, len(run.loader))
    bar = None
    if run.main_process and config.progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False)
    sums: dict[str, float] = {}
    for step, batch in enumerate(run.loader):
        if step >= steps or run.finished:
            steps = step
            break
        # uint8 from the workers, made float on the device (uhr4k.data.dataset.to_transport)
        x = unit_float(batch["input"].to(run.device, non_blocking=True))
        y = unit_float(batch["target"].to(run.device, non_blocking=True))
        _set_learning_rate(run, epoch, steps)
        parts = train_step(run, x, y)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{parts['total']:.4f}")
    if bar is not None:
        bar.close()
    return steps, {k: v / max(steps, 1) for k, v in sums.items()}


def end_of_epoch(run: Run, steps: int, means: dict[str, float], seconds: float, echo=print) -> dict | None:
    """After epoch ``run.epoch``, on rank 0: validate (and keep ``best.pt``), write ``last.pt`` and the
    log row, report. Returns the row (None on other ranks)."""
    if not run.main_process:
        return None
    config, done = run.config, run.epoch
    record = config_record(config)
    row = {"epoch": done, "steps": steps, "lr": f"{run.optimizer.param_groups[0]['lr']:.6g}"}
    row.update({f"train_{k}": f"{v:.6g}" for k, v in means.items()})
    weights = {} if run.ema is None else {"params_ema": run.ema.state_dict()}
    if run.val_set is not None:
        scores = _validate_run(run, row)
        if run.best_psnr is None or scores > run.best_psnr:
            run.best_psnr = scores
            save_checkpoint(run.out / BEST, run.model, run.optimizer, done, record, best_psnr=run.best_psnr,
                            **weights)
    row["seconds"] = f"{seconds:.2f}"
    run.rows.append(row)
    extra = {"best_psnr": run.best_psnr, "world_size": run.world, "log": run.rows, "step": run.step, **weights}
    if run.discriminator is not None:
        extra["discriminator"] = unwrap(run.discriminator).state_dict()
        extra["discriminator_optimizer"] = run.d_optimizer.state_dict()
    extra.update({name: getattr(run, name).state_dict() for name in ("scaler", "d_scaler")
                  if getattr(run, name) is not None})
    save_checkpoint(run.out / LAST, run.model, run.optimizer, done, record, **extra)
    write_log(run.out / LOG, run.rows)
    if run.writer is not None:
        _tensorboard_epoch(run, row)
    val_text = (f", val PSNR {row['val_psnr']} dB SSIM {row['val_ssim']} ({run.protocol})"
                if "val_psnr" in row else "")
    echo(f"epoch {done}/{config.epochs}: loss {row.get('train_total', 'n/a')}{val_text}")
    return row


def _validate_run(run: Run, row: dict) -> float:
    """Validate ``params`` (and ``params_ema``), fill the row; returns the PSNR that picks ``best.pt``
    (the EMA's when there is one, as BasicSR validates its ``net_g_ema``)."""
    config = run.config
    val_psnr, val_ssim = validate(run.model, run.val_set, run.protocol, run.device, config.val_limit,
                                  preview=run.out / PREVIEW if run.ema is None else None)
    row.update({"val_psnr": f"{val_psnr:.4f}", "val_ssim": f"{val_ssim:.5f}", "protocol": run.protocol})
    if run.ema is None:
        return val_psnr
    ema_psnr, ema_ssim = validate(run.ema.module, run.val_set, run.protocol, run.device, config.val_limit,
                                  preview=run.out / PREVIEW)
    row.update({"val_psnr_ema": f"{ema_psnr:.4f}", "val_ssim_ema": f"{ema_ssim:.5f}"})
    return ema_psnr


def _open_tensorboard(run: Run):
    """A SummaryWriter on ``<out>/tensorboard`` (rank 0), or InputError when TensorBoard is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("TensorBoard is not installed: pip install 'uhr4k[tb]'", "--tensorboard") from None
    return SummaryWriter(log_dir=str(run.out / "tensorboard"), purge_step=run.epoch + 1)


def _tensorboard_epoch(run: Run, row: dict) -> None:
    """The row's numbers as scalars (loss parts under train/, scores under val/, lr) and the preview image."""
    for key, value in row.items():
        if key in ("epoch", "protocol", "steps") or value in ("", None):
            continue
        tag = (key.replace("train_", "train/", 1) if key.startswith("train_") else
               key.replace("val_", "val/", 1) if key.startswith("val_") else key)
        run.writer.add_scalar(tag, float(value), run.epoch)
    preview = run.out / PREVIEW
    if "val_psnr" in row and preview.is_file():
        run.writer.add_image("val/preview", read_image(preview), run.epoch, dataformats="HWC")
    run.writer.flush()


# -------------------------------------------------------------------------------------------- train


def train(config: TrainConfig, echo=print) -> TrainSummary:
    """Run (or resume) a training; returns where it wrote and what it reached.

    Raises:
        InputError: untrainable model, missing data, an existing run without ``resume``, a checkpoint of
        another configuration, VGG weights missing for the perceptual loss.
    """
    run = build_run(config, echo)
    # one process per run folder; released on return, or by the kernel when this process dies
    run_lock = acquire_lock(run.out, "train") if run.main_process else None
    if run.main_process:
        remove_stale_temporaries(run.out)
    if config.resume:
        resume_run(run, echo)
    if config.tensorboard and run.main_process:
        run.writer = _open_tensorboard(run)
    distribute(run)
    run_started = time.perf_counter()
    for epoch in range(run.epoch, config.epochs):
        if run.finished:          # a resumed run that had reached its --iterations: nothing more to do
            break
        started = time.perf_counter()
        steps, means = train_one_epoch(run, epoch)
        run.epoch = epoch + 1
        end_of_epoch(run, steps, means, time.perf_counter() - started, echo)
        _barrier(run.world)
        if config.time_limit_s is not None and _all_agree(time.perf_counter() - run_started > config.time_limit_s,
                                                          run.world, run.device):
            if run.main_process:
                echo(f"time limit of {config.time_limit_s:.0f} s reached after epoch {run.epoch}")
            break
    undistribute(run)
    if run.writer is not None:
        run.writer.close()
    if run_lock is not None:
        run_lock.release()
    best_path = run.out / BEST
    return TrainSummary(run.out, run.epoch, run.out / LAST, best_path if best_path.exists() else None,
                        run.best_psnr, run.rows, run.model, run.rank)
