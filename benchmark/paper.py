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
    """The named optimizer settings: Table 1's A-F, and ``resnet`` (App. B.2, used for the ResNets)."""
    return {**paper()["settings"], "resnet": paper()["resnet_setting"]}


def table2(dataset: str, architecture: str) -> dict[str, dict]:
    """Table 2's published scores for a dataset and architecture (empty if the paper has none)."""
    # sndcgan (the authors' public SN-DCGAN) is read against the standard CNN's rows it is meant to reproduce
    key = {"standard_cnn": "standard_cnn", "sndcgan": "standard_cnn", "resnet": "resnet_hinge"}.get(architecture)
    return paper()["table2"].get(dataset, {}).get(key, {}) if key else {}


def real_data(dataset: str) -> dict | None:
    return paper()["table2"].get(dataset, {}).get("real_data")
