"""Training: the loop behind ``uhr4k train``, on one CPU/GPU or many GPUs with ``torchrun`` (DDP).

- Data: :func:`uhr4k.data.resolve_dataset` (the pairs, and the protocol ``bench`` scores them with) and
  :class:`PairedDataset` (seeded random crops, flips and rotations), a :class:`DistributedSampler` in
  every case (one replica when not distributed), so that ``K`` processes with batch ``b`` see exactly the
  samples of one process with batch ``K * b``.
- Optimizer: Adam (betas 0.9, 0.999), the paper's lr 2e-4; a loss with a discriminator (``glsgn``)
  gets a second Adam for it, stepped after the generator with the hinge loss.
- Every epoch: validation PSNR/SSIM (the data's protocol) on the validation split, a preview strip of
  the first validation image (``<out>/val_preview.png``: input | output | target), a row in
  ``<out>/log.csv``, ``<out>/last.pt`` (and ``best.pt`` on a better validation PSNR), all written atomically.
- ``resume``: continues from ``last.pt`` exactly (model, optimizers, epoch; data randomness depends on
  ``(seed, epoch, index)`` only), refusing a checkpoint of another model or configuration.
- Distributed: launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the environment), NCCL on GPUs, gloo on
  CPU; rank 0 validates, logs and writes checkpoints.
"""
from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from uhr4k import state
from uhr4k.benchmark.metrics import psnr_torch, ssim_torch
from uhr4k.data import PairedDataset, find_pairs, resolve_dataset
from uhr4k.errors import InputError
from uhr4k.files import from_float, write_image, write_text_atomic
from uhr4k.models.checkpoint import load_checkpoint, save_checkpoint, unwrap
from uhr4k.models.losses import build_loss, discriminator_value, loss_value, split_outputs
from uhr4k.models.registry import create_model

LAST, BEST, LOG, PREVIEW = "last.pt", "best.pt", "log.csv", "val_preview.png"
PREVIEW_WIDTH = 640


@dataclass
class TrainConfig:
    """Everything a run depends on. ``model_kwargs``/``loss_kwargs`` override the registered defaults."""

    model: str
    data: str
    out: str
    subset: str | None = None
    model_kwargs: dict = field(default_factory=dict)
    loss: str | None = None                 # None: the model's ``default_loss``
    loss_kwargs: dict = field(default_factory=dict)
    epochs: int = 500
    batch: int = 4                          # per process
    lr: float = 2e-4
    crop: tuple[int, int] | None = (960, 540)   # (width, height)
    augment: bool = True
    seed: int = 0
    workers: int = 0
    val_split: str | None = "val"           # None or "none": no validation
    val_limit: int | None = None            # validate on the first N pairs only
    protocol: str | None = None             # None: the data's (uhr4k.data.resolve_dataset, as bench)
    steps_per_epoch: int | None = None      # cap (smoke runs); None: the whole training split
    device: str | None = None               # None: cuda:LOCAL_RANK if available, else cpu
    time_limit_s: float | None = None       # stop after the epoch that passes this wall-clock budget
    resume: bool = False
    progress: bool = True
    init_weights: str | None = None         # fine-tune from these weights (any format pretrained= reads)


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
    """The checkpoint's ``config``: model name and kwargs (the load_model contract) plus the run's settings."""
    record = {"model": config.model, "kwargs": dict(config.model_kwargs)}
    record["run"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()
                     if k in ("loss", "batch", "lr", "crop", "augment", "seed", "subset", "data", "init_weights")}
    # Where the VGG weights lie is not part of the configuration (a moved file must not block a resume).
    record["run"]["loss_kwargs"] = {k: v for k, v in config.loss_kwargs.items() if k != "vgg_weights"}
    return record


def _check_resumable(checkpoint: dict, config: TrainConfig, path: Path, world: int) -> None:
    saved = checkpoint["config"]
    wanted = config_record(config)
    if saved.get("model") != wanted["model"]:
        raise InputError(f"checkpoint holds model {saved.get('model')!r}, this run trains {config.model!r}", path)
    if saved.get("kwargs") != wanted["kwargs"]:
        raise InputError(f"checkpoint holds {config.model} with {saved.get('kwargs')}, this run asks for "
                         f"{wanted['kwargs']}", path)
    for key in ("loss", "loss_kwargs", "batch", "crop", "seed"):
        if saved.get("run", {}).get(key) != wanted["run"][key]:
            raise InputError(f"checkpoint was trained with {key}={saved['run'].get(key)!r}, this run has "
                             f"{wanted['run'][key]!r} (an exact resume needs the same)", path)
    if checkpoint.get("world_size", 1) != world:
        raise InputError(f"checkpoint was trained by {checkpoint.get('world_size')} processes, this run has {world}",
                         path)


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_log(path: Path, rows: list[dict]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


@torch.no_grad()
def validate(model: nn.Module, dataset: PairedDataset, protocol: str, device: torch.device,
             limit: int | None = None, preview: Path | None = None) -> tuple[float, float]:
    """Mean PSNR and SSIM (``protocol``) of the model's final output over the dataset's images.

    With ``preview``, the first image's input | output | target strip is written there (PNG, at most
    ``PREVIEW_WIDTH`` pixels wide per panel), so that a run can be looked at while it trains.
    """
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
            write_preview(preview, x, final, y)
    model.train()
    finite = [p for p in psnrs if math.isfinite(p)]
    return (sum(finite) / len(finite) if finite else float("inf")), sum(ssims) / len(ssims)


def write_preview(path: Path, *images: torch.Tensor) -> None:
    """(1, 3, H, W) images in [0, 1] side by side, each scaled to at most ``PREVIEW_WIDTH`` wide."""
    scale = min(1.0, PREVIEW_WIDTH / images[0].shape[-1])
    panels = [F.interpolate(im, scale_factor=scale, mode="area") if scale < 1 else im for im in images]
    strip = torch.cat(panels, dim=3)[0].permute(1, 2, 0).float().cpu().numpy()
    write_image(path, from_float(strip))


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
    trained: nn.Module | None = None        # what the steps call: the model or its DDP wrapper
    epoch: int = 0                          # epochs done
    rows: list = field(default_factory=list)
    best_psnr: float | None = None

    @property
    def main_process(self) -> bool:
        return self.rank == 0

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def discriminator(self) -> nn.Module | None:
        return getattr(self.criterion, "discriminator", None)


def build_run(config: TrainConfig, echo=print) -> Run:
    """Join the process group, check the output folder, build model, loss, optimizers and data."""
    rank, world, device = _distributed_setup(config.device)
    out = Path(config.out)
    if (out / LAST).exists() and not config.resume:
        raise InputError(f"a run is already there ({LAST}): use --resume to continue it, or another --out", out)
    if config.resume and not (out / LAST).exists():
        raise InputError(f"nothing to resume: no {LAST}", out)
    model, criterion, config = _build_model_and_loss(config)
    model.to(device)
    criterion.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999))
    disc = getattr(criterion, "discriminator", None)
    d_optimizer = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(0.9, 0.999)) if disc is not None else None
    train_set, sampler, loader, protocol = _build_training_data(config, rank, world, device)
    val_set = _build_validation_data(config, echo if rank == 0 else (lambda line: None))
    return Run(config, rank, world, device, model, criterion, optimizer, d_optimizer, train_set, sampler, loader,
               val_set, config.protocol or protocol)


def _build_model_and_loss(config: TrainConfig) -> tuple[nn.Module, nn.Module, TrainConfig]:
    """The model (seeded: the same initial weights on every rank), its loss, and the config with the loss named."""
    torch.manual_seed(config.seed)  # DDP also broadcasts rank 0's weights; this keeps single runs reproducible
    model = create_model(config.model, **config.model_kwargs)
    if config.init_weights is not None:
        if config.resume:
            raise InputError("--init-weights starts a run from given weights; --resume continues one: not both")
        from uhr4k.models.pretrained import load_pretrained
        load_pretrained(model, config.model, config.init_weights)   # strictly, any release format
    loss_name = config.loss or getattr(model, "default_loss", None)
    if loss_name is None or not any(p.requires_grad for p in model.parameters()):
        raise InputError(f"model {config.model!r} has no trainable parameters: nothing to train")
    try:
        criterion = build_loss(loss_name, **config.loss_kwargs)
    except TypeError:
        raise InputError(f"loss {loss_name!r} does not take the options {sorted(config.loss_kwargs)}") from None
    return model, criterion, replace(config, loss=loss_name)  # the caller's config stays as given


def _build_training_data(config: TrainConfig, rank: int, world: int, device: torch.device):
    """(dataset, sampler, loader, the data's protocol) of the training split; the sampler shards it over
    the processes."""
    train_data = resolve_dataset(config.data, config.subset, "train")
    pairs = train_data.pairs
    train_set = PairedDataset(pairs, crop=config.crop, augment=config.augment, seed=config.seed)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=config.seed,
                                 drop_last=True)
    if len(sampler) < config.batch:
        raise InputError(f"{len(pairs)} training pairs cannot fill a batch of {config.batch} on {world} "
                         f"process(es)", train_data.root)
    loader = DataLoader(train_set, batch_size=config.batch, sampler=sampler, num_workers=config.workers,
                        drop_last=True, pin_memory=device.type == "cuda",
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
    run.epoch = int(checkpoint["epoch"])
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
    if run.world == 1:
        run.trained = run.model
        return
    ids = [run.device.index] if run.device.type == "cuda" else None
    # Some parameters may not reach a loss (an ablation without LP under a final-image loss leaves S1's
    # output convolution out): let DDP look for them instead of waiting for their gradients forever.
    run.trained = DistributedDataParallel(run.model, device_ids=ids, find_unused_parameters=True)
    if run.discriminator is not None:
        run.criterion.discriminator = DistributedDataParallel(run.discriminator, device_ids=ids)


def undistribute(run: Run) -> None:
    if run.discriminator is not None:
        run.criterion.discriminator = unwrap(run.criterion.discriminator)
    run.trained = run.model


# ------------------------------------------------------------------------------------------- epochs


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """One optimizer step of the generator (and then of the discriminator, if any): the loss parts."""
    outputs = run.trained(x)
    total, parts = loss_value(run.criterion, outputs, y, x)
    run.optimizer.zero_grad(set_to_none=True)
    total.backward()
    run.optimizer.step()
    if run.d_optimizer is not None:
        run.d_optimizer.zero_grad(set_to_none=True)  # drops the gradients the generator step left on D
        d_loss = discriminator_value(run.criterion, outputs, y, x)
        d_loss.backward()
        run.d_optimizer.step()
        parts["discriminator"] = d_loss.item()
    return parts


def train_one_epoch(run: Run, epoch: int) -> tuple[int, dict[str, float]]:
    """Epoch ``epoch`` (0-based) over this process's shard: (steps taken, mean of each loss part)."""
    config = run.config
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
        if step >= steps:
            break
        x = batch["input"].to(run.device, non_blocking=True)
        y = batch["target"].to(run.device, non_blocking=True)
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
    row = {"epoch": done, "steps": steps, "lr": config.lr}
    row.update({f"train_{k}": f"{v:.6g}" for k, v in means.items()})
    if run.val_set is not None:
        val_psnr, val_ssim = validate(run.model, run.val_set, run.protocol, run.device, config.val_limit,
                                      preview=run.out / PREVIEW)
        row.update({"val_psnr": f"{val_psnr:.4f}", "val_ssim": f"{val_ssim:.5f}", "protocol": run.protocol})
        if run.best_psnr is None or val_psnr > run.best_psnr:
            run.best_psnr = val_psnr
            save_checkpoint(run.out / BEST, run.model, run.optimizer, done, record, best_psnr=run.best_psnr)
    row["seconds"] = f"{seconds:.2f}"
    run.rows.append(row)
    extra = {"best_psnr": run.best_psnr, "world_size": run.world, "log": run.rows}
    if run.discriminator is not None:
        extra["discriminator"] = unwrap(run.discriminator).state_dict()
        extra["discriminator_optimizer"] = run.d_optimizer.state_dict()
    save_checkpoint(run.out / LAST, run.model, run.optimizer, done, record, **extra)
    write_log(run.out / LOG, run.rows)
    val_text = (f", val PSNR {row['val_psnr']} dB SSIM {row['val_ssim']} ({run.protocol})"
                if "val_psnr" in row else "")
    echo(f"epoch {done}/{config.epochs}: loss {row.get('train_total', 'n/a')}{val_text}")
    return row


# -------------------------------------------------------------------------------------------- train


def train(config: TrainConfig, echo=print) -> TrainSummary:
    """Run (or resume) a training; returns where it wrote and what it reached.

    Raises:
        InputError: untrainable model, missing data, an existing run without ``resume``, a checkpoint of
        another configuration, VGG weights missing for the perceptual loss.
    """
    run = build_run(config, echo)
    # one process per run folder; released on return, or by the kernel when this process dies
    run_lock = state.acquire_lock(run.out, "train") if run.main_process else None
    if run.main_process:
        state.remove_stale_temporaries(run.out)
    if config.resume:
        resume_run(run, echo)
    distribute(run)
    run_started = time.perf_counter()
    for epoch in range(run.epoch, config.epochs):
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
    if run_lock is not None:
        run_lock.release()
    best_path = run.out / BEST
    return TrainSummary(run.out, run.epoch, run.out / LAST, best_path if best_path.exists() else None,
                        run.best_psnr, run.rows, run.model, run.rank)
