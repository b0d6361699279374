"""The release key-layout fixtures of ``release_keys/``: the names and shapes of each authors' state dict
(facts read off their released files and code), one ``KEY DIM...`` line per tensor, ``#`` comments; a
release of several files has ``FILE KEY DIM...`` lines."""
from pathlib import Path

KEYS = Path(__file__).parent / "release_keys"


def release_layout(name: str) -> dict:
    """{key: shape} of the authors' state dict; for a release of several files, {file: {key: shape}}."""
    layout: dict = {}
    for line in (KEYS / f"{name}.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            words = line.split()
            if words[0].endswith(".pth"):
                file_name, key, *shape = words
                layout.setdefault(file_name, {})[key] = tuple(int(s) for s in shape)
            else:
                key, *shape = words
                layout[key] = tuple(int(s) for s in shape)
    return layout
