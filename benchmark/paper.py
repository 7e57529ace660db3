"""Facts from Miyato et al. (2018), shipped as data (benchmark/paper.yaml)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

PAPER_FILE = Path(__file__).with_name("paper.yaml")


@lru_cache(maxsize=1)
def paper() -> dict:
    with open(PAPER_FILE) as f:
        return yaml.safe_load(f)


def settings() -> dict[str, dict]:
    """Table 1: the named optimizer settings A-F."""
    return paper()["settings"]
