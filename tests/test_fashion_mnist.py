"""Fashion-MNIST: read from IDX files (generated here, and Debian's real ones where installed), padded to the
standard CNN's 32x32, a clear error when nowhere to be found, and a suite that runs on it end to end."""
import gzip
import subprocess
import sys

import numpy as np
import pytest
import torch

from benchmark import data
from benchmark.data import DatasetUnavailable, fashion_mnist_split, load_images, read_idx

REAL = data.FASHION_DEBIAN
real_files = pytest.mark.skipif(not (REAL / "t10k-images-idx3-ubyte.gz").is_file(),
                                reason="Debian's dataset-fashion-mnist is not installed (CI installs it)")


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(folder, *, n_train=60, n_test=20, gz=True, seed=0):
    """Fashion-MNIST's four files, small and random, in the original format."""
    rng = np.random.RandomState(seed)
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.randint(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for name, array in zip(data.FASHION_FILES[split], (images, labels)):
            raw = idx_bytes(array)
            if gz:
                (folder / name).write_bytes(gzip.compress(raw))
            else:
                (folder / name[:-3]).write_bytes(raw)
        made[split] = (images, labels)
    return made


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    """As on a machine without the package: generated files are then the only ones found."""
    monkeypatch.setattr(data, "FASHION_DEBIAN", tmp_path / "no-such-package")


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_generated_idx_files_read_back_exactly_from_data_root(tmp_path, no_debian, gz, layout):
    root = tmp_path / "fm"
    made = write_idx_folder(root if layout == "flat" else root / "FashionMNIST" / "raw", gz=gz)
    for split in ("train", "test"):
        images, labels = fashion_mnist_split(split, str(root), download=False)
        assert images.dtype == torch.uint8 and images.shape == (len(made[split][0]), 1, 28, 28)
        assert np.array_equal(images[:, 0].numpy(), made[split][0])
        assert np.array_equal(labels.numpy(), made[split][1].astype(np.int64))


def test_32px_is_the_28px_image_zero_padded_by_two_pixels_and_other_sizes_resample(tmp_path, no_debian):
    root = tmp_path / "fm"
    made = write_idx_folder(root)
    padded = load_images("fashion_mnist", split="test", size=32, root=str(root), download=False)
    assert padded.shape == (20, 1, 32, 32)
    assert np.array_equal(padded[:, 0, 2:30, 2:30].numpy(), made["test"][0])
    border = padded.clone()
    border[:, :, 2:30, 2:30] = 0
    assert border.sum() == 0
    assert load_images("fashion_mnist", split="test", size=28, root=str(root), download=False).shape[-1] == 28
    assert load_images("fashion_mnist", split="test", size=16, root=str(root), download=False).shape[-1] == 16


def test_nowhere_to_be_found_names_the_package_the_flag_and_the_download(tmp_path, no_debian):
    with pytest.raises(DatasetUnavailable) as info:
        fashion_mnist_split("train", str(tmp_path / "empty"), download=False)
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "--data-root" in message
    assert "online" in message and "download disabled" in message
    with pytest.raises(ValueError, match="train, test"):
        fashion_mnist_split("validation", str(tmp_path))


def test_a_damaged_or_truncated_idx_file_is_a_clear_error(tmp_path, no_debian):
    root = tmp_path / "fm"
    write_idx_folder(root, gz=False)
    path = root / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetUnavailable, match="cut short"):
        fashion_mnist_split("test", str(root), download=False)
    path.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DatasetUnavailable, match="not an IDX file"):
        read_idx(path)


@real_files
def test_the_real_files_are_fashion_mnist():
    train_x, train_y = fashion_mnist_split("train")
    test_x, test_y = fashion_mnist_split("test")
    assert train_x.shape == (60000, 1, 28, 28) and test_x.shape == (10000, 1, 28, 28)
    assert torch.bincount(train_y).tolist() == [6000] * 10 and torch.bincount(test_y).tolist() == [1000] * 10
    assert data.split_sizes("fashion_mnist", None) == {"train": 60000, "test": 10000}


def test_a_suite_runs_end_to_end_on_generated_fashion_mnist_and_is_scored_by_fashion_cnn(tmp_path, write_suite):
    root = tmp_path / "fm"
    write_idx_folder(root, n_train=120, n_test=40)
    suite = write_suite({"dataset": "fashion_mnist", "image_size": 32, "data_root": str(root), "steps": 2,
                         "regularizers": ["spectral_norm"], "settings": ["D"],
                         "evaluation": {"is_samples": 20, "is_splits": 2, "fid_real": 120, "fid_fake": 20,
                                        "sample_grid": 4}}, name="fm")
    results = tmp_path / "results"
    env_python = sys.executable
    done = subprocess.run([env_python, "-m", "benchmark", "run", str(suite), "--results", str(results)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    (path,) = [p for p in (results / "fm").glob("*.json")]
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["feature_extractor"] == "fashion-cnn"
    from benchmark.scorers import manifest

    assert record["feature_extractor_weights"] == manifest()["fashion-cnn"]["module_hash"]
    assert record["protocol"]["feature_extractor_info"]["pinned"] is True
