"""The shipped scorers: classifier weights that live in the package and are loaded by sha256.

A score is a measurement only if the network behind it is fixed, so nothing here trains at run time: the
weights are files under ``weights/``, pinned by ``weights/manifest.json`` (sha256, size, test accuracy, the
machine that trained them). A missing or altered file is one clear error, never a silent retrain. The
maintainer command that regenerates them (deterministically on one machine):

    python -m benchmark.scorers train digits-cnn      # or fashion-cnn; rewrites the file and the manifest
"""
from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

from ..data import digits_split, fashion_mnist_split
from ..errors import FeatureExtractorUnavailable
from .classifier import ClassifierFeatureExtractor, ClassifierNet, ClassifierSpec, prepare

from .. import instruments

WEIGHTS = instruments.WEIGHTS
MANIFEST = instruments.MANIFEST

SCORERS = {spec.name: spec for spec in [
    ClassifierSpec(name="digits-cnn", version=2, dataset="digits", size=8, channels=(32, 64, 128),
                   split_fn=digits_split, min_test_accuracy=0.97, epochs=40, threads=2),
    ClassifierSpec(name="fashion-cnn", version=1, dataset="fashion_mnist", size=32, channels=(16, 32, 64), pool_every=1,
                   split_fn=partial(fashion_mnist_split, download=False), min_test_accuracy=0.90, epochs=8,
                   padded_from=28),
]}
# dataset -> the scorer that measures it
FOR_DATASET = {spec.dataset: spec.name for spec in SCORERS.values()}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest() -> dict:
    return instruments.manifest(MANIFEST)  # this module's MANIFEST: tests point it at a copy


def weights_path(name: str) -> Path:
    """The shipped weights of ``name``, their sha256 checked against the manifest."""
    entry = manifest().get(name)
    spec = SCORERS[name]
    if entry is None or entry.get("file") != spec.file:
        raise FeatureExtractorUnavailable(
            f"{name} v{spec.version} has no pinned weights in {MANIFEST}; a maintainer makes them with "
            f"`python -m benchmark.scorers train {name}` (scorers are never trained at run time)")
    path = WEIGHTS / entry["file"]
    if not path.is_file():
        raise FeatureExtractorUnavailable(
            f"{name}'s weights {path} are missing (the package is incomplete: reinstall regbench, or restore the "
            f"file from git)")
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise FeatureExtractorUnavailable(
            f"{name}'s weights {path} have sha256 {digest[:16]}..., not the pinned {entry['sha256'][:16]}...: the "
            f"file was changed; restore it from git (scores from another network are not comparable)")
    return path


def load(name: str, path: str | Path | None = None) -> tuple[ClassifierNet, dict]:
    """The classifier in eval mode and what is known of it. An explicit ``path`` (a test's own weights) is
    loaded as it is; ``pinned`` says whether its sha256 is the manifest's."""
    spec = SCORERS[name]
    path = Path(path) if path is not None else weights_path(name)
    digest = file_sha256(path)
    entry = manifest().get(name, {})
    pinned = digest == entry.get("sha256")
    net = ClassifierNet(spec.channels, spec.size, spec.pool_every)
    net.load_state_dict(read_weights(path))
    # what the manifest says of the file, which holds tensors only; another file's accuracy is unknown
    info = {"test_accuracy": entry.get("test_accuracy") if pinned else None, "version": spec.version,
            "pinned": pinned, "file_sha256": digest}
    return net.eval(), info


def weights_bytes(state: dict) -> bytes:
    """A scorer's weights as safetensors: tensors only (nothing executable to unpickle, and no metadata, whose
    order safetensors does not keep), so the same tensors give the same bytes and the sha256 pins the
    network. What is known of them (accuracy, machine) is in the manifest."""
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in state.items()})


def read_weights(path: str | Path) -> dict:
    """The state_dict in a weights file written by :func:`weights_bytes`."""
    from safetensors.torch import load_file

    return load_file(str(path), device="cpu")


def register() -> None:
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    for name in SCORERS:
        if name not in FEATURE_EXTRACTORS_REGISTRY:
            register_feature_extractor(name, ClassifierFeatureExtractor)


__all__ = ["SCORERS", "FOR_DATASET", "ClassifierSpec", "load", "prepare", "read_weights", "register",
           "weights_bytes", "weights_path"]
