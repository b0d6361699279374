"""The release key-layout fixtures of ``release_keys/``: the names and shapes of each authors' state dict
(facts read off their released files and code), one ``KEY DIM...`` line per tensor, ``#`` comments; a
release of several files has ``FILE KEY DIM...`` lines."""
from pathlib import Path

KEYS = Path(__file__).parent / "release_keys"

# Parameters of the released configurations, counted on the authors' own modules (Table I of the GLSGN
# paper rounds the reflection baselines' counts).
RELEASED_PARAMS = {
    "rmnet": 65_432_841,
    "errnet": 18_953_379,
    "ibcln": 21_608_338,
    "cfdnet": 9_649_671,
    "zou2020": 66_993_158,
    "vrgnet": 170_697,
    "rescan": 54_735,
    "rescan-gru": 149_823,
    "ffanet": 4_455_913,
    "msbdn": 31_353_061,
    "aecrnet": 2_614_229,
    "derainrlnet": 5_822_137,
}


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
