"""The contract between the trainer and a discriminator regularizer.

A regularizer acts only through these hooks; the trainer calls every hook a
regularizer overrides and skips the rest (decided once per run, not per step).
The hooks, in the order a run meets them:

- ``wrap_layer(layer)``: while D is built, each conv/dense layer passes through
  here and the returned module is used (spectral norm, weight norm).
- ``normalization(num_features)``: while D is built, after each hidden conv
  layer; a module returned here is inserted (batch norm, layer norm).
- ``initialize(discriminator)``: once, after D is built (orthonormal init).
- ``penalty(discriminator=, real=, fake=)``: added to every D loss (gradient
  penalty, orthonormal penalty).
- ``after_d_step(discriminator)``: after every D optimizer step (clipping).
- ``loss``: the adversarial loss the method is defined with, or None to use
  the suite's (WGAN-GP is tied to the Wasserstein loss).

Hyperparameters are declared in ``defaults``; a suite may override any of them
and nothing else.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn


class BadHyperparameter(ValueError):
    pass


class Regularizer:
    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    loss: ClassVar[str | None] = None

    HOOKS = ("wrap_layer", "normalization", "initialize", "penalty", "after_d_step")

    def __init__(self, **params: Any):
        self.params = self.resolve_params(params)

    @classmethod
    def resolve_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(cls.defaults))
        if unknown:
            known = ", ".join(sorted(cls.defaults)) or "none"
            raise BadHyperparameter(f"{cls.name} has no hyperparameter {unknown[0]!r} (it has: {known})")
        out = dict(cls.defaults)
        for key, value in params.items():
            default = cls.defaults[key]
            # ints are fine where a float is declared (YAML writes 10, not 10.0)
            ok = isinstance(value, type(default)) or (type(default) is float and type(value) is int)
            if not ok or isinstance(value, bool) is not isinstance(default, bool):
                raise BadHyperparameter(
                    f"{cls.name}.{key} must be {type(default).__name__}, got {type(value).__name__} {value!r}"
                )
            out[key] = type(default)(value)
            if isinstance(out[key], float) and not math.isfinite(out[key]):
                raise BadHyperparameter(f"{cls.name}.{key} must be a finite number, got {value}")
        return out

    def __getattr__(self, key: str) -> Any:
        params = self.__dict__.get("params", {})
        if key in params:
            return params[key]
        raise AttributeError(key)

    @classmethod
    def uses(cls, hook: str) -> bool:
        return getattr(cls, hook) is not getattr(Regularizer, hook)

    # -- hooks: the defaults do nothing ---------------------------------------------
    def wrap_layer(self, layer: nn.Module) -> nn.Module:
        return layer

    def normalization(self, num_features: int) -> nn.Module | None:
        return None

    def initialize(self, discriminator: nn.Module) -> None:
        return None

    def penalty(self, *, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        return None

    def after_d_step(self, discriminator: nn.Module) -> None:
        return None


def shift_only(norm: nn.Module) -> nn.Module:
    """A normalization layer built with ``affine=True`` with its learned scale removed: only the shift (one
    parameter per channel) is learned. The scale stays, as a buffer of ones: torch's norms would take
    weight=None, but group norm's backward then fails under bf16 autocast (a float32 shift, bf16 input)."""
    ones = torch.ones_like(norm.weight.detach())
    del norm.weight
    norm.register_buffer("weight", ones)
    return norm


def weight_layers(module: nn.Module) -> list[nn.Module]:
    """The conv and dense layers of a network, in forward order."""
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
