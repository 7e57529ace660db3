"""Datasets: the embedded digits, and torchvision's CIFAR-10 read from files (offline: a clear error)."""
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from benchmark.data import DatasetUnavailable, load_images


def test_digits_splits_are_disjoint_and_resized():
    train = load_images("digits", split="train", size=16)
    test = load_images("digits", split="test", size=16)
    assert train.dtype == torch.uint8 and train.shape[1:] == (1, 16, 16)
    assert len(train) + len(test) == 1797
    native = load_images("digits", split="all", size=8)
    assert native.max() == 255 and native.min() == 0


def test_digits_are_read_from_the_cache_without_scikit_learn(tmp_path, monkeypatch):
    from benchmark.data import digits_split

    monkeypatch.setenv("REGBENCH_CACHE", str(tmp_path))
    first, first_labels = digits_split("train")  # through scikit-learn, then cached
    (cached,) = tmp_path.glob("digits-sklearn-*.npz")
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # importing it now raises ImportError
    again, again_labels = digits_split("train")
    assert torch.equal(first, again) and torch.equal(first_labels, again_labels)

    cached.write_bytes(b"not an npz")  # a damaged copy is rebuilt, not trusted
    monkeypatch.delitem(sys.modules, "sklearn.datasets")
    rebuilt, _ = digits_split("train")
    assert torch.equal(first, rebuilt) and np.load(cached)["images"].shape == (1797, 8, 8)


def test_cifar10_offline_without_files_is_one_line_exit_2(write_suite, tmp_path):
    suite = write_suite({"dataset": "cifar10", "image_size": 32, "data_root": str(tmp_path / "nothing")})
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmark", "run", str(suite), "--results", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--data-root" in proc.stderr and "cifar10" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert time.perf_counter() - start < 60
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").rglob("*.json"))


def test_cifar10_loads_from_local_files(tmp_path, monkeypatch):
    """The real torchvision loading path, on a small CIFAR-10 written in its on-disk format."""
    from torchvision.datasets import CIFAR10

    # our files lack the real md5s; everything else is torchvision's own reading code
    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda path, md5=None: True)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.randint(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    images = load_images("cifar10", split="train", size=16, root=str(tmp_path), download=False)
    assert images.shape == (20, 3, 16, 16) and images.dtype == torch.uint8


def test_missing_files_without_download_name_the_option(tmp_path):
    with pytest.raises(DatasetUnavailable, match="--data-root"):
        load_images("cifar10", split="test", size=32, root=str(tmp_path / "elsewhere"), download=False)
