"""The offline feature extractor for ``digits``: a small classifier, registered into torch-fidelity.

Inception cannot score 8x8 handwritten digits offline (its weights are a
download, and it was never trained on them). So, as IS/FID are defined for any
classifier, we train one on the digits' training split (seeded, cached on
disk) and use its logits for IS and its penultimate layer for FID/KID. Every
output names it ``digits-cnn``: these numbers are not comparable with
Inception-based ones.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from .data import cache_dir, digits_split
from .store import atomic_torch_save

NAME = "digits-cnn"
VERSION = 2  # bump when the net or its training changes: the cache key includes it
MIN_TEST_ACCURACY = 0.97


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(128 * 2 * 2, 128), nn.ReLU())
        self.classify = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.classify(features)


def prepare(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1|3, H, W) at any size -> float (N, 1, 8, 8) in [0, 1], as the net was trained."""
    x = images.float() / 255.0
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    if x.shape[-2:] != (8, 8):
        x = F.interpolate(x, size=(8, 8), mode="bilinear", antialias=True, align_corners=False)
    return x


def _shift(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Random shifts of up to one pixel: generated digits are not centred like the scans."""
    dx, dy = torch.randint(-1, 2, (2,), generator=rng).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def train_classifier(*, seed: int = 0, epochs: int = 40) -> tuple[DigitsNet, float]:
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    train_x, train_y = digits_split("train")
    test_x, test_y = digits_split("test")
    train_x, test_x = prepare(train_x), prepare(test_x)
    net = DigitsNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(train_x), generator=rng)
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(net(_shift(train_x[idx], rng))[1], train_y[idx])
            # outlier exposure (Hendrycks et al. 2019): uniform predictions on noise, so that noise and
            # shapeless samples score an IS near 1 instead of being confidently spread over classes
            sparsity = torch.rand(len(idx), 1, 1, 1, generator=rng) * 3  # from dense to mostly-dark noise
            noise = torch.rand(len(idx), 1, 8, 8, generator=rng) ** sparsity
            loss = loss - F.log_softmax(net(noise)[1], dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        accuracy = (net(test_x)[1].argmax(1) == test_y).float().mean().item()
    return net, accuracy


def weights_path() -> Path:
    """The cached classifier, trained on first use."""
    path = cache_dir() / f"{NAME}-v{VERSION}.pt"
    if not path.exists():
        net, accuracy = train_classifier()
        if accuracy < MIN_TEST_ACCURACY:
            raise RuntimeError(f"{NAME} reached only {accuracy:.3f} test accuracy (< {MIN_TEST_ACCURACY})")
        atomic_torch_save({"state_dict": net.state_dict(), "test_accuracy": accuracy, "version": VERSION}, path)
    return path


def load(path: Path | None = None) -> tuple[DigitsNet, dict]:
    blob = torch.load(path or weights_path(), map_location="cpu", weights_only=True)
    net = DigitsNet()
    net.load_state_dict(blob["state_dict"])
    return net.eval(), {"test_accuracy": blob["test_accuracy"], "version": blob["version"]}


class DigitsFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's interface: uint8 images in, a tuple of the requested features out."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.net, self.info = load(feature_extractor_weights_path)
        self.requires_grad_(False)

    @staticmethod
    def get_provided_features_list():
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, 8, 8, dtype=torch.uint8)

    def forward(self, x):
        features, logits = self.net(prepare(x.to(next(self.net.parameters()).device)))
        out = {"features": features, "logits": logits}
        return tuple(out[k] for k in self.features_list)


def register() -> None:
    if NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(NAME, DigitsFeatureExtractor)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
