"""The paper's ResNets (Miyato et al. 2018, Tables 4 and 5), scaled by ``width``.

CIFAR-10 layout (any size but 48, Mg = size / 8): G dense Mg x Mg x 256 -> three up-blocks of 256 -> BN,
ReLU, 3x3 conv, tanh; D two down-blocks of 128, two blocks of 128, ReLU, global sum pooling, dense.
STL-10 layout (size 48, Mg 6): G dense 6 x 6 x 512 -> up-blocks 256, 128, 64; D down-blocks 64, 128, 256,
512, a block of 1024. Blocks are pre-activation (BN/ReLU before each conv in G, ReLU in D), upsampling
nearest-neighbour, downsampling 2x2 average pooling, shortcuts 1x1 convs where the shape changes; D's
first block has no input ReLU (the "optimized" block of the authors' code).

``init: paper`` is sngan_projection's: Glorot-uniform weights with gain sqrt(2) for the two convs inside each
residual block and gain 1 for shortcuts, G's dense and last conv and D's dense; zero biases.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import ARCHITECTURES
from .init import glorot_uniform, initializer

BLOCK_GAIN = 2 ** 0.5  # inside residual blocks (the authors' GlorotUniform(math.sqrt(2)))

CIFAR = {"g": (256, 256, 256, 256), "d": ((128, True), (128, True), (128, False), (128, False))}
STL = {"g": (512, 256, 128, 64), "d": ((64, True), (128, True), (256, True), (512, True), (1024, False))}


def _ch(base: int, width: float) -> int:
    return max(1, round(base * width))


class GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, *, init: Callable):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), init(nn.Conv2d(c_in, c_out, 3, 1, 1), BLOCK_GAIN)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), init(nn.Conv2d(c_out, c_out, 3, 1, 1), BLOCK_GAIN)
        self.shortcut = init(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, *, down: bool, first: bool, wrap_layer: Callable,
                 normalization: Callable, init: Callable):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = wrap_layer(init(nn.Conv2d(c_in, c_out, 3, 1, 1), BLOCK_GAIN))
        self.norm = normalization(c_out) or nn.Identity()
        self.conv2 = wrap_layer(init(nn.Conv2d(c_out, c_out, 3, 1, 1), BLOCK_GAIN))
        self.shortcut = wrap_layer(init(nn.Conv2d(c_in, c_out, 1))) if (down or c_in != c_out) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.norm(self.conv1(h))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.shortcut is None:
            return h + x
        if self.first:  # pool before the 1x1 conv: the same map, 4x cheaper
            return h + self.shortcut(F.avg_pool2d(x, 2) if self.down else x)
        s = self.shortcut(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class Generator(nn.Module):
    def __init__(self, *, size: int, channels: int, width: float, z_dim: int, layout: dict, init: Callable):
        super().__init__()
        self.z_dim, self.mg = z_dim, size // 8
        chans = [_ch(c, width) for c in layout["g"]]
        self.dense = init(nn.Linear(z_dim, self.mg * self.mg * chans[0]))
        self.blocks = nn.Sequential(*(GBlock(a, b, init=init) for a, b in zip(chans, chans[1:])))
        self.out = nn.Sequential(nn.BatchNorm2d(chans[-1]), nn.ReLU(),
                                 init(nn.Conv2d(chans[-1], channels, 3, 1, 1)), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(self.dense(z).view(z.shape[0], -1, self.mg, self.mg)))


class Discriminator(nn.Module):
    def __init__(self, *, channels: int, width: float, layout: dict, wrap_layer: Callable,
                 normalization: Callable, init: Callable):
        super().__init__()
        blocks, c_in = [], channels
        for i, (c, down) in enumerate(layout["d"]):
            blocks.append(DBlock(c_in, _ch(c, width), down=down, first=i == 0, wrap_layer=wrap_layer,
                                 normalization=normalization, init=init))
            c_in = _ch(c, width)
        self.blocks = nn.Sequential(*blocks)
        self.head = wrap_layer(init(nn.Linear(c_in, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        return self.head(h).squeeze(1)


@ARCHITECTURES.register("resnet")
def resnet(*, size: int, channels: int, width: float = 1.0, z_dim: int = 128,
           wrap_layer: Callable = lambda m: m, normalization: Callable = lambda c: None, init: str = "paper"):
    if size % 8 or size < 16:
        raise ValueError(f"resnet needs an image size divisible by 8 and at least 16 (32, 48), got {size}")
    layout = STL if size == 48 else CIFAR
    init_layer = initializer(init, glorot_uniform)
    g = Generator(size=size, channels=channels, width=width, z_dim=z_dim, layout=layout, init=init_layer)
    d = Discriminator(channels=channels, width=width, layout=layout, wrap_layer=wrap_layer,
                      normalization=normalization, init=init_layer)
    return g, d
