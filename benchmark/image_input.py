"""Reading a set of images to score: a folder of PNG/JPEG files or an .npz of uint8 arrays."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .data import IMAGE_SUFFIXES


class BadImages(ValueError):
    """Images that cannot be scored; the message says what is wrong."""


def read_image_set(path: str | Path) -> torch.Tensor:
    """uint8 (N, C, H, W), C in {1, 3}, from a folder of images or an .npz (N,H,W,C or N,C,H,W)."""
    path = Path(path)
    if path.is_dir():
        arrays = _read_folder(path)
    elif path.suffix == ".npz" and path.is_file():
        arrays = _read_npz(path)
    else:
        raise BadImages(f"{path}: not a folder of images or an .npz file")
    if arrays.shape[0] == 0:
        raise BadImages(f"{path}: no images")
    if arrays.shape[-1] != arrays.shape[-2]:
        raise BadImages(f"{path}: images must be square, got {arrays.shape[-2]}x{arrays.shape[-1]}")
    return torch.from_numpy(np.ascontiguousarray(arrays))


def _open(file: Path, mode: str | None = None) -> np.ndarray:
    """One image as an array; a file that is not a whole image (cut short, mislabelled) is named."""
    from PIL import Image

    try:
        with Image.open(file) as im:
            return np.asarray(im.convert(mode) if mode else im)
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's UnidentifiedImageError is an OSError
        raise BadImages(f"{file}: not a readable image ({exc}); remove or replace it") from None


def _read_folder(path: Path) -> np.ndarray:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BadImages(f"{path}: no .png/.jpg images in this folder")
    images = [_open(f) for f in files]
    sizes = {im.shape[:2] for im in images}
    if len(sizes) > 1:
        raise BadImages(f"{path}: images have different sizes ({', '.join(f'{h}x{w}' for h, w in sorted(sizes))})")
    if any(im.dtype != np.uint8 for im in images):
        raise BadImages(f"{path}: only 8-bit images can be scored")
    gray = all(im.ndim == 2 for im in images)
    images = [im if gray else _open(f, "RGB") for im, f in zip(images, files)]
    stacked = np.stack(images)
    return stacked[:, None] if gray else stacked.transpose(0, 3, 1, 2)


def _read_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path) as f:
            if not f.files:
                raise BadImages(f"{path}: the .npz holds no arrays")
            arr = f["images"] if "images" in f.files else f[f.files[0]]
    except (OSError, ValueError) as exc:
        raise BadImages(f"{path}: cannot read as .npz ({exc})") from None
    if arr.dtype != np.uint8:
        raise BadImages(f"{path}: images must be uint8 (0-255), got {arr.dtype}")
    if arr.ndim != 4:
        raise BadImages(f"{path}: expected a 4-d array (N,H,W,C or N,C,H,W), got shape {arr.shape}")
    if arr.shape[1] in (1, 3):
        return arr
    if arr.shape[3] in (1, 3):
        return arr.transpose(0, 3, 1, 2)
    raise BadImages(f"{path}: cannot find a channel axis of size 1 or 3 in shape {arr.shape}")
