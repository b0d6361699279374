"""Option parsing shared by the commands: one ``WIDTHxHEIGHT`` parser, errors naming the option."""
from __future__ import annotations

from uhr4k.errors import InputError
from uhr4k.synth import resize


def parse_size(text: str | None, option: str, allow_none: bool = False) -> tuple[int, int] | None:
    """``WIDTHxHEIGHT`` -> (width, height); with ``allow_none``, ``None`` or ``none`` -> None.

    Raises:
        InputError: ``"<option>: size must look like 3840x2160, got '...'"``.
    """
    if allow_none and (text is None or text.lower() == "none"):
        return None
    try:
        return resize.parse_size(text)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}") from None
