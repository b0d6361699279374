"""``uhr4k pack``: a UHR4K root as files a training cluster streams, or the Hub loads.

WebDataset (``format="webdataset"``)::

    <out>/<subset>/<split>-<n:06d>.tar   samples in id order; shards close at --shard-size bytes
    <out>/index.json                     shards: name, samples, bytes, sha256; samples per subset/split
    <out>/SHA256SUMS                     sha256sum -c format, every shard
    <out>/README.md                      the dataset card

Each sample is ``<key>.input.png``, ``<key>.target.png``, ``<key>.layer.png`` (the reflection, streak
layer or validity mask) and ``<key>.json`` (its manifest row, with ``params`` parsed and ``index``, its
position in its split in id order, the index :class:`PairedDataset` uses for its seeded crops). The key
is the sample id with dots replaced (WebDataset splits a member name at its first dot). Tar members are
written in a fixed order with fixed metadata, so the same root packs to the same bytes.

Hugging Face (``format="hf"``)::

    <out>/<split>/<subset>/{input,target,layer}/<id>.png
    <out>/<split>/metadata.jsonl        input_file_name, target_file_name, layer_file_name + the manifest row
    <out>/README.md                     the card, with ``configs`` naming each split's files

``datasets.load_dataset("imagefolder", data_dir=out)`` (or ``load_dataset(out)``) reads it with the splits
``train``, ``validation``, ``test`` and three image columns.

Every PNG's SHA-256 is checked against the manifest before it is packed: a corrupt root fails, naming the
file, and nothing is left half-written: every file is written under a temporary name of
:mod:`uhr4k.core.atomic` and renamed, so a killed pack leaves only temporaries that
:func:`~uhr4k.core.atomic.remove_stale_temporaries` recognises and removes.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from uhr4k import layout
from uhr4k.core.atomic import atomic_path, sha256_file, write_bytes_atomic, write_text_atomic
from uhr4k.core.errors import InputError
from uhr4k.core.paths import inside
from uhr4k.layout.card import declared, write_card

FORMATS = ("webdataset", "hf")
DEFAULT_SHARD_BYTES = 1_000_000_000        # ~1 GB: a few dozen 4K pairs, the WebDataset authors' advice
ROLES = ("input", "target", "layer")
HF_SPLITS = {"train": "train", "val": "validation", "test": "test"}


@dataclass
class PackResult:
    out: Path
    format: str
    samples: dict[str, int] = field(default_factory=dict)       # "<subset>/<split>" -> samples
    files: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{k} {n}" for k, n in self.samples.items())
        return [f"{self.out}: {sum(self.samples.values())} samples as {self.format} ({counts}); "
                f"{len(self.files)} file(s), card in README.md"]


def sample_key(sample_id: str) -> str:
    """A WebDataset key: no dots (the member name's first dot starts the extension)."""
    return sample_id.replace(".", "_")


def _rows_by_split(root: Path, subsets, splits) -> dict[tuple[str, str], list[dict]]:
    rows = layout.read_manifest(root)
    if not rows:
        raise InputError(f"no {layout.MANIFEST_NAME} (pack reads a root built by build-syn or align)", root)
    wanted = {layout.subset(s).name for s in subsets} if subsets else None
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        if (wanted is None or row["subset"] in wanted) and (not splits or row["split"] in splits):
            groups.setdefault((row["subset"], row["split"]), []).append(row)
    if not groups:
        raise InputError("no manifest rows match the subsets and splits asked for", root / layout.MANIFEST_NAME)
    order = {s.name: k for k, s in enumerate(layout.SUBSETS.values())}
    return {key: sorted(groups[key], key=lambda r: r["id"])
            for key in sorted(groups, key=lambda k: (order.get(k[0], 99), layout.SPLITS.index(k[1])))}


def read_checked(root: Path, row: dict, role: str) -> bytes | None:
    """The bytes of one of a row's files, its SHA-256 checked against the manifest (None: no such layer).

    Raises:
        InputError: the file is missing or its checksum differs from the manifest's.
    """
    relative = row.get(role) or ""
    if not relative:
        if role == "layer":
            return None
        raise InputError(f"manifest row {row['id']} has no {role} path", root / layout.MANIFEST_NAME)
    path = inside(root, relative, root / layout.MANIFEST_NAME)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file (listed in the manifest)", path) from None
    expected = row.get(f"sha256_{role}") or ""
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise InputError(f"checksum differs from the manifest's sha256_{role} (file changed or corrupt)", path)
    return data


def sample_record(row: dict, index: int) -> dict:
    """The JSON stored with a sample: its manifest row, ``params`` parsed, and its ``index`` in its split."""
    record = dict(row)
    record["params"] = json.loads(row["params"]) if row.get("params") else {}
    for key in ("width", "height", "seed"):
        if record.get(key, "") != "":
            record[key] = int(record[key])
    record["index"] = index
    return record


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    tar.addfile(info, io.BytesIO(data))


class _ShardWriter:
    """Tar shards ``<folder>/<split>-<n:06d>.tar`` closed once they pass ``max_bytes`` (at sample ends).

    A shard is written under :func:`~uhr4k.core.atomic.atomic_path`'s temporary name and renamed when it
    closes; a failure leaves the temporary to the caller's clean-up (``pack`` removes the whole output)."""

    def __init__(self, folder: Path, split: str, max_bytes: int):
        self.folder, self.split, self.max_bytes = folder, split, max_bytes
        self.number, self.tar, self.size, self.count = -1, None, 0, 0
        self.open_shard = contextlib.ExitStack()
        self.done: list[dict] = []

    def _final(self) -> Path:
        return self.folder / f"{self.split}-{self.number:06d}.tar"

    def write(self, members: list[tuple[str, bytes]]) -> None:
        if self.tar is None or self.size >= self.max_bytes:
            self.close()
            self.number += 1
            tmp = self.open_shard.enter_context(atomic_path(self._final()))
            self.tar = self.open_shard.enter_context(tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT))
            self.size, self.count = 0, 0
        for name, data in members:
            _add(self.tar, name, data)
            self.size += 512 + (len(data) + 511) // 512 * 512
        self.count += 1

    def close(self) -> None:
        if self.tar is None:
            return
        self.open_shard.close()   # the tar's end blocks, then the rename into place
        final = self._final()
        self.done.append({"name": final.name, "samples": self.count, "bytes": final.stat().st_size,
                          "sha256": sha256_file(final)})
        self.tar = None


def pack_webdataset(root: Path, out: Path, groups, shard_bytes: int, progress: bool) -> PackResult:
    result = PackResult(out, "webdataset")
    shards = []
    total = sum(len(rows) for rows in groups.values())
    with tqdm(total=total, desc="pack", unit="sample", disable=not progress) as bar:
        for (subset_name, split), rows in groups.items():
            writer = _ShardWriter(out / subset_name, split, shard_bytes)
            for index, row in enumerate(rows):
                key = sample_key(row["id"])
                members = [(f"{key}.{role}.png", data) for role in ROLES
                           if (data := read_checked(root, row, role)) is not None]
                record = json.dumps(sample_record(row, index), sort_keys=True).encode()
                writer.write(members + [(f"{key}.json", record)])
                bar.update()
            writer.close()
            for shard in writer.done:
                shards.append({"subset": subset_name, "split": split, **shard,
                               "path": f"{subset_name}/{shard['name']}"})
            result.samples[f"{subset_name}/{split}"] = len(rows)
    write_text_atomic(out / "index.json", json.dumps({"format": "webdataset", "samples": result.samples,
                                                      "shards": shards}, indent=1) + "\n")
    write_text_atomic(out / "SHA256SUMS", "".join(f"{s['sha256']}  {s['path']}\n" for s in shards))
    result.files = [out / s["path"] for s in shards] + [out / "index.json", out / "SHA256SUMS"]
    return result


def pack_hf(root: Path, out: Path, groups, progress: bool) -> tuple[PackResult, dict]:
    result = PackResult(out, "hf")
    metadata: dict[str, list[str]] = {}
    total = sum(len(rows) for rows in groups.values())
    with tqdm(total=total, desc="pack", unit="sample", disable=not progress) as bar:
        for (subset_name, split), rows in groups.items():
            for index, row in enumerate(rows):
                record = sample_record(row, index)
                entry = {}
                for role in ROLES:
                    data = read_checked(root, row, role)
                    if data is None:
                        continue
                    relative = f"{subset_name}/{role}/{row['id']}.png"
                    write_bytes_atomic(out / split / relative, data)
                    entry[f"{role}_file_name"] = relative
                # params as JSON text: its keys differ between subsets, and one Arrow schema must hold them all
                record["params"] = json.dumps(record["params"], sort_keys=True)
                metadata.setdefault(split, []).append(json.dumps({**entry, **record}, sort_keys=True))
                bar.update()
            result.samples[f"{subset_name}/{split}"] = len(rows)
    for split, lines in metadata.items():
        write_text_atomic(out / split / "metadata.jsonl", "\n".join(lines) + "\n")
        result.files.append(out / split / "metadata.jsonl")
    configs = [{"config_name": "default", "data_files": [
        {"split": HF_SPLITS[s], "path": f"{s}/**"} for s in layout.SPLITS if s in metadata]}]
    return result, {"configs": configs}


def pack(root: str | os.PathLike, out: str | os.PathLike, fmt: str = "webdataset", *, subsets=(), splits=(),
         shard_bytes: int = DEFAULT_SHARD_BYTES, card: dict | None = None, progress: bool = True) -> PackResult:
    """Pack the UHR4K root ``root`` into ``out`` (see the module docstring).

    Args:
        fmt: ``webdataset`` or ``hf``.
        subsets, splits: only these (subset keys or folder names; split names); all when empty.
        shard_bytes: a WebDataset shard is closed once it holds at least this many bytes.
        card: keyword arguments of :func:`uhr4k.layout.card.card_text` (license, sources, command); a
            licence or sources not given are those of ``root``'s card, whose commands come first.

    Raises:
        InputError: no manifest, nothing selected, a missing or corrupt file, ``out`` inside ``root`` or
        not empty.
    """
    root, out = Path(root), Path(out)
    if fmt not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if shard_bytes <= 0:
        raise InputError(f"--shard-size: must be positive, got {shard_bytes}")
    if not root.is_dir():
        raise InputError("not a folder", root)
    if out.resolve().is_relative_to(root.resolve()):
        raise InputError("the output folder must not be inside the dataset root", out)
    if out.exists() and any(out.iterdir()):
        raise InputError("output folder is not empty (pack writes a fresh copy)", out)
    groups = _rows_by_split(root, subsets, splits)
    out.mkdir(parents=True, exist_ok=True)
    try:                    # a corrupt file found half way removes the whole (fresh) output: nothing half-packed
        if fmt == "webdataset":
            result, extra = pack_webdataset(root, out, groups, shard_bytes, progress), {}
        else:
            result, extra = pack_hf(root, out, groups, progress)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    rows = [r for rows in groups.values() for r in rows]
    result.files.append(write_card(out, rows, extra=extra, **declared(root, **(card or {}))))
    return result
