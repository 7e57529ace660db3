import os
from pathlib import Path

import pytest
import yaml

# One classifier/reference cache for the whole test session (trained once, then read).
os.environ.setdefault("REGBENCH_CACHE", str(Path(__file__).resolve().parents[1] / ".cache" / "regbench"))

TINY_SUITE = {
    "dataset": "digits",
    "image_size": 8,
    "width": 0.125,
    "regularizers": ["none", "spectral_norm"],
    "settings": ["C", "D"],
    "steps": 4,
    "batch_size": 8,
    "log_every": 2,
    "evaluation": {"is_samples": 100, "is_splits": 2, "fid_real": 200, "fid_fake": 100, "sample_grid": 16},
}


@pytest.fixture
def write_suite(tmp_path):
    def write(overrides=None, *, name="tiny", drop=()):
        data = {**TINY_SUITE, **(overrides or {})}
        for key in drop:
            data.pop(key)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write
