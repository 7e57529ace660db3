"""Adversarial losses, as (discriminator loss, generator loss) pairs on D's logits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .registry import Registry

LOSSES = Registry("loss")

Tensor = torch.Tensor


@dataclass(frozen=True)
class Loss:
    d: Callable[[Tensor, Tensor], Tensor]  # (D(real), D(fake)) -> scalar
    g: Callable[[Tensor], Tensor]  # D(G(z)) -> scalar


def _register(name: str, loss: Loss) -> None:
    LOSSES.register(name)(lambda: loss)


# The paper's "standard" loss: non-saturating for G (-log D(G(z))), softplus form for stability.
_register("standard", Loss(d=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
                           g=lambda f: F.softplus(-f).mean()))
_register("hinge", Loss(d=lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(),
                        g=lambda f: -f.mean()))
_register("wasserstein", Loss(d=lambda r, f: f.mean() - r.mean(),
                              g=lambda f: -f.mean()))


def create_loss(name: str) -> Loss:
    return LOSSES.get(name)()
