"""Datasets, as uint8 image tensors (N, C, H, W) resized to the suite's size.

Every dataset is held in memory as uint8 and batches are drawn by index: for
the small images this benchmark uses, that is faster than a DataLoader and
makes the sample stream a pure function of the run's seed.
"""
from __future__ import annotations

import io
import os
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DatasetUnavailable

from .registry import Registry
from .store import atomic_write_bytes

DATASETS = Registry("dataset")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


def pad(images: torch.Tensor, size: int) -> torch.Tensor:
    """Zero borders up to ``size``: how 28x28 MNIST-like images become the standard CNN's 32x32 (the LeNet-5
    convention) without resampling every pixel."""
    rows, cols = size - images.shape[-2], size - images.shape[-1]
    return F.pad(images, (cols // 2, cols - cols // 2, rows // 2, rows - rows // 2))


# the side each dataset's files hold (`regbench score DATASET:SPLIT` scores a split at it)
NATIVE_SIZE = {"digits": 8, "fashion_mnist": 28, "cifar10": 32, "stl10": 96}
# image channels per dataset (3 where not listed)
CHANNELS = {"digits": 1, "fashion_mnist": 1}
# datasets whose images are zero-padded, not resampled, up to a larger size
PADDED = {"fashion_mnist"}


def load_images(name: str, *, split: str, size: int, root: str | None = None, download: bool = True) -> torch.Tensor:
    images = DATASETS.get(name)(split=split, root=root, download=download)
    if name in PADDED and size >= images.shape[-1] and (size - images.shape[-1]) % 2 == 0:
        return pad(images, size)
    return resize(images, size)


def to_unit_range(batch: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of the generator's tanh; in the default dtype (float32, but
    float64 where a check sets it: tests and check-plugin compare fused with solo runs so)."""
    return batch.to(torch.get_default_dtype()).div_(127.5).sub_(1.0)


def to_uint8(batch: torch.Tensor) -> torch.Tensor:
    return ((batch.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


# -- digits: scikit-learn's bundled 8x8 digits, the offline default ------------------------------
DIGITS_TEST_FRACTION = 0.2


def cache_dir() -> Path:
    """Where regbench keeps what it derives once per machine (digits, digits-cnn, reference statistics)."""
    return Path(os.environ.get("REGBENCH_CACHE", Path.home() / ".cache" / "regbench"))


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: images (N, 8, 8) in 0..16 and their labels.

    Importing scikit-learn takes ~1.2 s, paid by `regbench run` and again by each of its workers
    for 1797 tiny images; after the first load a copy in the cache (keyed by scikit-learn's
    version, which ships the file) is read in milliseconds."""
    try:
        version = metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        version = "unknown"
    path = cache_dir() / f"digits-sklearn-{version}.npz"
    try:
        with np.load(path) as cached:
            return cached["images"], cached["target"]
    except (OSError, KeyError, ValueError):  # absent, or a damaged copy: rebuild it
        pass
    from sklearn.datasets import load_digits

    bunch = load_digits()
    buf = io.BytesIO()
    np.savez(buf, images=bunch.images, target=bunch.target)
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError:  # a read-only cache only costs the import next time
        pass
    return bunch.images, bunch.target


def _digits_counts(n: int) -> dict[str, int]:
    n_test = int(n * DIGITS_TEST_FRACTION)
    return {"train": n - n_test, "test": n_test, "all": n}


def digits_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N,1,8,8), labels) of a fixed, seeded train/test split."""
    digits, target = _digits()
    images = torch.from_numpy(np.round(digits * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(target.astype(np.int64))
    order = torch.from_numpy(np.random.RandomState(0).permutation(len(images)))
    n_test = _digits_counts(len(images))["test"]
    splits = {"test": order[:n_test], "train": order[n_test:], "all": order}
    if split not in splits:
        raise ValueError(f"digits has splits {', '.join(splits)}, not {split!r}")
    idx = splits[split]
    return images[idx], labels[idx]


@DATASETS.register("digits")
def digits(*, split: str, root: str | None, download: bool) -> torch.Tensor:
    return digits_split(split)[0]


# -- torchvision datasets -------------------------------------------------------------------------
# the published sizes, known without the files: validation checks sample counts against them before a run
TORCHVISION_SPLITS = {"cifar10": {"train": 50000, "test": 10000}, "fashion_mnist": {"train": 60000, "test": 10000},
                      "stl10": {"unlabeled": 100000, "train": 5000, "test": 8000, "train+unlabeled": 105000}}


def _torchvision(name: str, make, *, root: str | None, download: bool, hint: str):
    root = str(Path(root or "data").expanduser())
    try:
        return make(root, False)
    except (RuntimeError, OSError):  # torchvision: "Dataset not found or corrupted"
        pass
    if download:
        try:
            return make(root, True)
        except Exception as exc:  # offline: URLError, socket errors, ...
            reason = f"download failed ({type(exc).__name__}: {str(exc)[:120]})"
    else:
        reason = "download disabled"
    raise DatasetUnavailable(
        f"{name} is not under {root!r} and {reason}; put {hint} there and pass --data-root DIR "
        f"(or set data_root in the suite), or run once while online"
    )


@DATASETS.register("cifar10")
def cifar10(*, split: str, root: str | None, download: bool) -> torch.Tensor:
    from torchvision.datasets import CIFAR10

    split_size("cifar10", split, root)  # an unknown split: ValueError naming the known ones
    ds = _torchvision("cifar10", lambda r, d: CIFAR10(r, train=split == "train", download=d),
                      root=root, download=download, hint="cifar-10-batches-py/")
    return torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()


@DATASETS.register("stl10")
def stl10(*, split: str, root: str | None, download: bool) -> torch.Tensor:
    from torchvision.datasets import STL10

    split_size("stl10", split, root)
    ds = _torchvision("stl10", lambda r, d: STL10(r, split=split, download=d),
                      root=root, download=download, hint="stl10_binary/")
    return torch.from_numpy(ds.data)  # already (N, 3, 96, 96)


# -- Fashion-MNIST: the real dataset reachable offline (Debian's package dataset-fashion-mnist) ----------
FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format; gzipped or not) as a uint8 array. torchvision's reader takes only
    uncompressed files inside its own folder layout; the Debian package ships the original .gz files."""
    import gzip

    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise DatasetUnavailable(f"{path} is not an IDX file of unsigned bytes (damaged or another format)")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise DatasetUnavailable(f"{path} holds {data.size} bytes for shape {shape} (cut short?)")
    return data.reshape(shape)


def _fashion_dir(root: str | None) -> Path | None:
    """The folder holding the four IDX files: --data-root (or its FashionMNIST/raw, torchvision's layout),
    else the Debian package's folder; None if neither has them."""
    candidates = [Path(root).expanduser(), Path(root).expanduser() / "FashionMNIST" / "raw"] if root else []
    for folder in [*candidates, FASHION_DEBIAN]:
        if all((folder / name).is_file() or (folder / name[:-3]).is_file()
               for pair in FASHION_FILES.values() for name in pair):
            return folder
    return None


def _idx_file(folder: Path, name: str) -> Path:
    return folder / name if (folder / name).is_file() else folder / name[:-3]


def fashion_mnist_split(split: str, root: str | None = None, download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (N, 1, 28, 28), labels) of Fashion-MNIST's train (60,000) or test (10,000) split."""
    if split not in FASHION_FILES:
        raise ValueError(f"fashion_mnist has splits {', '.join(FASHION_FILES)}, not {split!r}")
    folder = _fashion_dir(root)
    if folder is None and download:
        from torchvision.datasets import FashionMNIST

        target = str(Path(root or "data").expanduser())
        try:
            FashionMNIST(target, train=True, download=True)
            FashionMNIST(target, train=False, download=True)
            folder = _fashion_dir(target)
            reason = "downloaded files not found"
        except Exception as exc:  # offline: URLError, socket errors, ...
            reason = f"download failed ({type(exc).__name__}: {str(exc)[:120]})"
    else:
        reason = "download disabled"
    if folder is None:
        where = f"{root!r} or " if root else ""
        raise DatasetUnavailable(
            f"fashion_mnist's IDX files are not in {where}{FASHION_DEBIAN} and the {reason}; install Debian's "
            f"package (apt-get install dataset-fashion-mnist), or put the four *-idx*-ubyte(.gz) files in a folder "
            f"and pass --data-root DIR, or run once while online (torchvision downloads them)")
    images_name, labels_name = FASHION_FILES[split]
    images = read_idx(_idx_file(folder, images_name))
    labels = read_idx(_idx_file(folder, labels_name))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetUnavailable(f"fashion_mnist's {split} files in {folder} do not match: images {images.shape}, "
                                 f"labels {labels.shape}")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


@DATASETS.register("fashion_mnist")
def fashion_mnist(*, split: str, root: str | None, download: bool) -> torch.Tensor:
    return fashion_mnist_split(split, root, download)[0]


def split_sizes(name: str, root: str | None) -> dict[str, int] | None:
    """split -> number of images, for a dataset's splits; None where that cannot be known before loading (a
    folder that is not there yet). A folder is one split under any name, so it is given as {"*": n}."""
    if name in TORCHVISION_SPLITS:
        return TORCHVISION_SPLITS[name]
    if name == "digits":
        return _digits_counts(len(_digits()[0]))
    if name == "folder":
        if root is None or not Path(root).is_dir():
            return None
        return {"*": sum(1 for p in Path(root).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)}
    return None


def split_size(name: str, split: str, root: str | None) -> int | None:
    """Images in one split (None: not knowable before loading); an unknown split is a ValueError naming them."""
    sizes = split_sizes(name, root)
    if sizes is None:
        return None
    if "*" in sizes:
        return sizes["*"]
    if split not in sizes:
        raise ValueError(f"{name} has splits {', '.join(sizes)}, not {split!r}")
    return sizes[split]


@DATASETS.register("folder")
def folder(*, split: str, root: str | None, download: bool) -> torch.Tensor:
    """Every PNG/JPEG directly in ``root`` (RGB), as one split."""
    from PIL import Image

    if root is None or not Path(root).is_dir():
        raise DatasetUnavailable(f"dataset 'folder' needs data_root (or --data-root) to name a folder of images, "
                                 f"got {root!r}")
    paths = sorted(p for p in Path(root).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DatasetUnavailable(f"no .png/.jpg images in {root!r}")
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    if len({a.shape for a in arrays}) > 1:
        raise DatasetUnavailable(f"images in {root!r} have different sizes; resize them to one size first")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
