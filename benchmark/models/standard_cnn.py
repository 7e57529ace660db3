"""The paper's standard CNN (Miyato et al. 2018, Table 3), at any size divisible by 8, and the authors' public
SN-DCGAN (``sndcgan``), which differs from Table 3 in D.

G: z -> dense Mg x Mg x 512 -> three 4x4 stride-2 deconvs (256, 128, 64) with BN
and ReLU -> 3x3 conv to the image channels, tanh; Mg = size / 8 (4 for 32x32,
6 for 48x48). At 8x8 (the CPU default) G starts at 2x2x256 and keeps the last
two deconvs. D: seven convs (3x3 s1 64, 4x4 s2 64, 3x3 s1 128, 4x4 s2 128,
3x3 s1 256, 4x4 s2 256, 3x3 s1 512), leaky ReLU 0.1, dense to 1. ``width``
scales every channel count, so tiny tests and the CPU default use the same net.

``sndcgan`` is chainer-gan-lib's ``SNDCGANDiscriminator`` (the code behind its README's IS 7.41 on CIFAR-10):
each stride-2 conv doubles the channels, so D is 64, 128, 128, 256, 256, 512, 512, and its leaky ReLU has
chainer's default slope 0.2. Its G is Table 3's; it draws z from U(-1, 1), which is the suite's ``latent``.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from . import ARCHITECTURES
from .init import initializer, normal_002

# (kernel, stride, channels) per D conv, and the leaky ReLU slope
TABLE3 = ((3, 1, 64), (4, 2, 64), (3, 1, 128), (4, 2, 128), (3, 1, 256), (4, 2, 256), (3, 1, 512)), 0.1
SNDCGAN = ((3, 1, 64), (4, 2, 128), (3, 1, 128), (4, 2, 256), (3, 1, 256), (4, 2, 512), (3, 1, 512)), 0.2


def _ch(base: int, width: float) -> int:
    return max(1, round(base * width))


class Generator(nn.Module):
    def __init__(self, *, size: int, channels: int, width: float, z_dim: int, init: Callable):
        super().__init__()
        self.z_dim = z_dim
        # Mg = size / 8 with three deconvs, as Table 3; but never a 1x1 seed: at 8x8 that made every
        # regularizer collapse to one sample in our tests, so 8x8 starts at 2x2 with the last two deconvs
        n_up = 3 if size >= 16 else 2
        self.mg = size // 2 ** n_up
        chans = [_ch(c, width) for c in (512, 256, 128, 64)[-(n_up + 1):]]
        c0 = chans[0]
        self.dense = nn.Sequential(init(nn.Linear(z_dim, self.mg * self.mg * c0)),
                                   nn.BatchNorm1d(self.mg * self.mg * c0), nn.ReLU())
        ups = []
        for c_in, c_out in zip(chans, chans[1:]):
            ups += [init(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1)), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.body = nn.Sequential(*ups, init(nn.Conv2d(chans[-1], channels, 3, 1, 1)), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.dense(z).view(z.shape[0], -1, self.mg, self.mg)
        return self.body(h)


class Discriminator(nn.Module):
    def __init__(self, *, size: int, channels: int, width: float, wrap_layer: Callable, normalization: Callable,
                 init: Callable, layout: tuple = TABLE3):
        super().__init__()
        convs, slope = layout
        layers, c_in = [], channels
        for i, (k, s, c) in enumerate(convs):
            c_out = _ch(c, width)
            # init before the wrap: a wrapped (parametrized) weight is no longer a plain tensor to fill
            layers.append(wrap_layer(init(nn.Conv2d(c_in, c_out, k, s, padding=1))))  # 3x3 s1 keeps size, 4x4 s2 halves it
            norm = normalization(c_out) if i > 0 else None  # the input layer is never normalized
            if norm is not None:
                layers.append(norm)
            layers.append(nn.LeakyReLU(slope))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = wrap_layer(init(nn.Linear(c_in * (size // 8) ** 2, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1)).squeeze(1)


def _build(layout: tuple, *, name: str, size: int, channels: int, width: float, z_dim: int, wrap_layer: Callable,
           normalization: Callable, init: str):
    if size % 8 or size < 8:
        raise ValueError(f"{name} needs an image size divisible by 8 (8, 16, 32, 48), got {size}")
    init_layer = initializer(init, normal_002)
    g = Generator(size=size, channels=channels, width=width, z_dim=z_dim, init=init_layer)
    d = Discriminator(size=size, channels=channels, width=width, wrap_layer=wrap_layer, normalization=normalization,
                      init=init_layer, layout=layout)
    return g, d


@ARCHITECTURES.register("standard_cnn")
def standard_cnn(*, size: int, channels: int, width: float = 1.0, z_dim: int = 128,
                 wrap_layer: Callable = lambda m: m, normalization: Callable = lambda c: None, init: str = "paper"):
    return _build(TABLE3, name="standard_cnn", size=size, channels=channels, width=width, z_dim=z_dim,
                  wrap_layer=wrap_layer, normalization=normalization, init=init)


@ARCHITECTURES.register("sndcgan")
def sndcgan(*, size: int, channels: int, width: float = 1.0, z_dim: int = 128,
            wrap_layer: Callable = lambda m: m, normalization: Callable = lambda c: None, init: str = "paper"):
    return _build(SNDCGAN, name="sndcgan", size=size, channels=channels, width=width, z_dim=z_dim,
                  wrap_layer=wrap_layer, normalization=normalization, init=init)
