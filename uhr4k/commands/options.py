"""Option parsing shared by the commands: ``WIDTHxHEIGHT`` sizes and ``i/n`` shards, errors naming the option."""
from __future__ import annotations

from uhr4k.errors import InputError


def parse_size(text: str | None, option: str, allow_none: bool = False) -> tuple[int, int] | None:
    """``WIDTHxHEIGHT`` -> (width, height) in pixels; with ``allow_none``, ``None`` or ``none`` -> None.

    Raises:
        InputError: ``"<option>: size must look like 3840x2160, got '...'"``, or a size that is not positive.
    """
    if allow_none and (text is None or str(text).lower() == "none"):
        return None
    try:
        width, height = (int(p) for p in str(text).lower().split("x"))
    except ValueError:
        raise InputError(f"{option}: size must look like 3840x2160, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise InputError(f"{option}: size must be positive, got {text!r}")
    return width, height


def parse_shard(text: str, option: str = "--shard") -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``: shard ``i`` of ``n``, counted from 1.

    Raises:
        InputError: not ``i/n``, or ``i`` outside ``1..n``.
    """
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise InputError(f"{option} must look like i/n, got {text!r}") from None
    if not 1 <= i <= n:
        raise InputError(f"{option} {text}: i must be between 1 and n")
    return i, n
