"""The paper's path end to end on a CPU: CIFAR-10 files (small, written here), Inception-v3 (random
weights: the real ones are a download), a --max-steps/--samples smoke run, and its report."""
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.cli import main
from benchmark.metrics import write_random_inception


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    from torchvision.datasets import CIFAR10

    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)  # our files lack the real md5s
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda path, md5=None: True)
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({"data": rng.randint(0, 256, (8, 3072), dtype=np.uint8), "labels": [0] * 8}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    return tmp_path / "data"


@pytest.fixture
def random_inception(tmp_path):
    return write_random_inception(tmp_path / "inception.pth")


def test_cifar10_inception_smoke_run_and_report(cifar_root, random_inception, tmp_path):
    suite = tmp_path / "paper-mini.yaml"
    suite.write_text(yaml.safe_dump({
        "dataset": "cifar10", "data_root": str(cifar_root), "image_size": 32, "architecture": "standard_cnn",
        "width": 0.25, "regularizers": ["spectral_norm"], "settings": ["A"], "steps": 100000,
        "evaluation": {"is_samples": 5000, "fid_real": 10000, "fid_fake": 5000}}))
    code = main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet", "--max-steps", "2",
                 "--samples", "16", "--inception-weights", str(random_inception)])
    assert code == 0
    (path,) = (tmp_path / "results" / "paper-mini").glob("*.json")
    result = json.loads(path.read_text())
    assert result["status"] == "ok" and result["steps_done"] == 2
    assert result["feature_extractor"] == "inception-v3-compat"
    assert result["protocol"]["fid_real"] == 16 and result["protocol"]["is_splits"] == 10
    assert result["overrides"] == {"max_steps": 2, "samples": 16}
    assert len(result["protocol"]["feature_extractor_weights_sha256"]) == 16
    assert main(["report", str(tmp_path / "results" / "paper-mini"), "--out", str(tmp_path / "report")]) == 0
    best = pd.read_csv(tmp_path / "report" / "tables" / "best.csv")
    assert best.iloc[0]["regularizer"].startswith("real data") and best.iloc[0]["paper IS"] == "11.24 ± 0.12"
    assert best[best["regularizer"] == "spectral_norm"].iloc[0]["paper IS"] == "7.42 ± 0.08"
