"""Measurements taken on a model during training, outside the timed part of the loop."""
from __future__ import annotations

import torch
from torch import nn

from .regularizers import weight_layers


def named_weight_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    layers = set(map(id, weight_layers(module)))
    return [(name, m) for name, m in module.named_modules() if id(m) in layers]


@torch.no_grad()
def spectral_norms(discriminator: nn.Module) -> list[float]:
    """The exact largest singular value of each D layer's effective weight (after any reparameterization),
    with the weight read as (out, in*kh*kw) as spectral normalization reads it."""
    was_training = discriminator.training
    discriminator.eval()  # reading a spectrally normalized weight in train mode would run a power iteration
    try:
        return [torch.linalg.matrix_norm(layer.weight.flatten(1).float(), ord=2).item()
                for _, layer in named_weight_layers(discriminator)]
    finally:
        discriminator.train(was_training)
