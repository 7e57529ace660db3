"""A small classifier as a feature extractor: IS on its logits, FID/KID/precision/recall on its penultimate layer.

Inception cannot score these datasets offline (its weights are a download, and it never saw 8x8 digits or
28x28 grayscale clothes), and papers that cannot use it score such data with a classifier trained on it (the
"Frechet LeNet Distance"). Every output names the network (``digits-cnn``, ``fashion-cnn``), never
"Inception": these numbers are comparable with each other, not with Inception-based ones.

Training is a maintainer's step (``python -m benchmark.scorers train NAME``); users only load the shipped
weights (``benchmark.scorers``), so every machine scores with the same network.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase


@dataclass(frozen=True)
class ClassifierSpec:
    """One shipped scorer: its network, the input it was trained on, and how it is trained."""
    name: str
    version: int  # bump when the net or its training changes: the weights file's name includes it
    dataset: str
    size: int  # the input side the net was trained at; other sizes are padded or resized to it
    channels: tuple[int, ...]  # conv widths
    split_fn: Callable[[str], tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 images, labels)
    min_test_accuracy: float
    epochs: int
    padded_from: int | None = None  # the dataset's own side when the net's input is it zero-padded
    max_shift: int = 1  # random shifts in training: generated images are not centred like the real ones
    pool_every: int = 2  # a 2x2 max-pool after every this many convs, and after the last
    # CPU threads in training: float sums round differently with the thread count (and the CPU's vector ISA),
    # so the same seed gives the same bits only on the same kind of CPU with the same threads
    threads: int = 1

    @property
    def file(self) -> str:
        return f"{self.name}-v{self.version}.safetensors"


class ClassifierNet(nn.Module):
    """3x3 conv-ReLUs with a 2x2 max-pool after every ``pool_every``, then a 128-d ReLU embedding (FID's
    features) and the class logits (IS's)."""

    def __init__(self, channels: tuple[int, ...], size: int, pool_every: int = 2, classes: int = 10):
        super().__init__()
        layers, c_in, side = [], 1, size
        for i, c_out in enumerate(channels):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
            if (i + 1) % pool_every == 0 or i == len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
                side //= 2
            c_in = c_out
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * side * side, 128), nn.ReLU())
        self.classify = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.classify(features)


def prepare(images: torch.Tensor, spec: ClassifierSpec) -> torch.Tensor:
    """uint8 (N, 1|3, H, W) at any size -> float (N, 1, size, size) in [0, 1], as the net was trained: the
    dataset's own size is zero-padded (as the data loader pads it), any other size resampled."""
    x = images.float() / 255.0
    if x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True)
    side = x.shape[-1]
    if spec.padded_from is not None and side == spec.padded_from and x.shape[-2] == side:
        extra = spec.size - side
        x = F.pad(x, (extra // 2, extra - extra // 2, extra // 2, extra - extra // 2))
    elif x.shape[-2:] != (spec.size, spec.size):
        x = F.interpolate(x, size=(spec.size, spec.size), mode="bilinear", antialias=True, align_corners=False)
    return x


def _shift(x: torch.Tensor, rng: torch.Generator, most: int) -> torch.Tensor:
    dx, dy = torch.randint(-most, most + 1, (2,), generator=rng).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


@contextlib.contextmanager
def _pinned(threads: int):
    """The spec's thread count and deterministic kernels for the training, and the caller's back afterwards:
    whatever runs next in this process (a test, a sweep) must not inherit them."""
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])


def train(spec: ClassifierSpec, *, seed: int = 0, progress: bool = True,
          threads: int | None = None) -> tuple[ClassifierNet, float]:
    """The classifier and its test accuracy: seeded, with deterministic algorithms, at the spec's thread count
    (or ``threads``), so that one machine gives the same weights every time; another CPU may round differently,
    which is why the weights ship instead of being trained where they are used."""
    with _pinned(threads or spec.threads):
        return _train(spec, seed, progress)


def _train(spec: ClassifierSpec, seed: int, progress: bool) -> tuple[ClassifierNet, float]:
    from tqdm import tqdm

    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    train_x, train_y = spec.split_fn("train")
    test_x, test_y = spec.split_fn("test")
    train_x, test_x = prepare(train_x, spec), prepare(test_x, spec)
    net = ClassifierNet(spec.channels, spec.size, spec.pool_every)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    batches = -(-len(train_x) // 64)
    bar = tqdm(total=spec.epochs * batches, desc=f"training {spec.name}", disable=not progress, unit="batch")
    for _ in range(spec.epochs):
        order = torch.randperm(len(train_x), generator=rng)
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(net(_shift(train_x[idx], rng, spec.max_shift))[1], train_y[idx])
            # outlier exposure (Hendrycks et al. 2019): uniform predictions on noise, so that noise and
            # shapeless samples score an IS near 1 instead of being confidently spread over classes
            sparsity = torch.rand(len(idx), 1, 1, 1, generator=rng) * 3  # from dense to mostly-dark noise
            noise = torch.rand(len(idx), 1, spec.size, spec.size, generator=rng) ** sparsity
            loss = loss - F.log_softmax(net(noise)[1], dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.update()
    bar.close()
    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net(test_x[i:i + 1000])[1].argmax(1) for i in range(0, len(test_x), 1000)])
    return net, (predicted == test_y).float().mean().item()


class ClassifierFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's interface: uint8 images in, a tuple of the requested features out. Which shipped
    classifier it is comes from its registered name."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        from . import SCORERS, load

        super().__init__(name, features_list)
        self.spec = SCORERS[name]
        self.net, self.info = load(name, feature_extractor_weights_path)
        self.requires_grad_(False)

    @staticmethod
    def get_provided_features_list():
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 1, 8, 8, dtype=torch.uint8)

    def forward(self, x):
        features, logits = self.net(prepare(x.to(next(self.net.parameters()).device), self.spec))
        out = {"features": features, "logits": logits}
        return tuple(out[k] for k in self.features_list)
