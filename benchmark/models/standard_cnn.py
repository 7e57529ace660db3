"""The paper's standard CNN (Miyato et al. 2018, Table 3), at any size divisible by 8.

G: z -> dense Mg x Mg x 512 -> three 4x4 stride-2 deconvs (256, 128, 64) with BN
and ReLU -> 3x3 conv to the image channels, tanh; Mg = size / 8 (4 for 32x32,
6 for 48x48). At 8x8 (the CPU default) G starts at 2x2x256 and keeps the last
two deconvs. D: seven convs (3x3 s1 64, 4x4 s2 64, 3x3 s1 128, 4x4 s2 128,
3x3 s1 256, 4x4 s2 256, 3x3 s1 512), leaky ReLU 0.1, dense to 1. ``width``
scales every channel count, so tiny tests and the CPU default use the same net.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from . import ARCHITECTURES

D_LAYERS = ((3, 1, 64), (4, 2, 64), (3, 1, 128), (4, 2, 128), (3, 1, 256), (4, 2, 256), (3, 1, 512))


def _ch(base: int, width: float) -> int:
    return max(1, round(base * width))


class Generator(nn.Module):
    def __init__(self, *, size: int, channels: int, width: float, z_dim: int):
        super().__init__()
        self.z_dim = z_dim
        # Mg = size / 8 with three deconvs, as Table 3; but never a 1x1 seed: at 8x8 that made every
        # regularizer collapse to one sample in our tests, so 8x8 starts at 2x2 with the last two deconvs
        n_up = 3 if size >= 16 else 2
        self.mg = size // 2 ** n_up
        chans = [_ch(c, width) for c in (512, 256, 128, 64)[-(n_up + 1):]]
        c0 = chans[0]
        self.dense = nn.Sequential(nn.Linear(z_dim, self.mg * self.mg * c0), nn.BatchNorm1d(self.mg * self.mg * c0),
                                   nn.ReLU())
        ups = []
        for c_in, c_out in zip(chans, chans[1:]):
            ups += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.body = nn.Sequential(*ups, nn.Conv2d(chans[-1], channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(z).view(z.shape[0], -1, self.mg, self.mg)
        return self.body(h)


class Discriminator(nn.Module):
    def __init__(self, *, size: int, channels: int, width: float, wrap_layer: Callable, normalization: Callable):
        super().__init__()
        layers, c_in = [], channels
        for i, (k, s, c) in enumerate(D_LAYERS):
            c_out = _ch(c, width)
            layers.append(wrap_layer(nn.Conv2d(c_in, c_out, k, s, padding=1)))  # 3x3 s1 keeps size, 4x4 s2 halves it
            norm = normalization(c_out) if i > 0 else None  # the input layer is never normalized
            if norm is not None:
                layers.append(norm)
            layers.append(nn.LeakyReLU(0.1))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = wrap_layer(nn.Linear(c_in * (size // 8) ** 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)


@ARCHITECTURES.register("standard_cnn")
def standard_cnn(*, size: int, channels: int, width: float = 1.0, z_dim: int = 128,
                 wrap_layer: Callable = lambda m: m, normalization: Callable = lambda c: None):
    if size % 8 or size < 8:
        raise ValueError(f"standard_cnn needs an image size divisible by 8 (8, 16, 32, 48), got {size}")
    g = Generator(size=size, channels=channels, width=width, z_dim=z_dim)
    d = Discriminator(size=size, channels=channels, width=width, wrap_layer=wrap_layer, normalization=normalization)
    return g, d
