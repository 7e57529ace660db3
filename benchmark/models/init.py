"""Weight initialisation: ``paper`` is the authors' init for each architecture, ``torch`` PyTorch's defaults.

Under spectral or weight normalization with Adam the scale of the initial weights sets the effective step
size, so the init changes which high-learning-rate settings survive; the authors' code is the reference.
Each initialiser takes a layer and a gain and returns the layer, so a model applies it where it builds the
layer (before a regularizer wraps it).
"""
from __future__ import annotations

from torch import nn

INITS = ("paper", "torch")


def keep(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """PyTorch's default init, as the layer was built."""
    return layer


def normal_002(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """N(0, 0.02) weights, zero biases: chainer-gan-lib's standard CNN (``chainer.initializers.Normal(0.02)``)."""
    nn.init.normal_(layer.weight, 0.0, 0.02)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def glorot_uniform(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Glorot-uniform weights with ``gain``, zero biases: sngan_projection's ResNets (gain sqrt(2) for the convs
    inside residual blocks, 1 for shortcuts and the first and last layers). Chainer and torch count fans alike."""
    nn.init.xavier_uniform_(layer.weight, gain=gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def initializer(init: str, paper):
    """The initialiser for an architecture: its ``paper`` one, or ``keep`` for torch's defaults."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    return paper if init == "paper" else keep
