"""The contract between the trainer and a discriminator regularizer.

A regularizer acts only through these hooks; the trainer calls every hook a
regularizer overrides and skips the rest (decided once per run, not per step).
The hooks, in the order a run meets them:

- ``wrap_layer(layer)``: while D is built, each conv/dense layer passes through
  here and the returned module is used (spectral norm, weight norm).
- ``normalization(num_features)``: while D is built, after each hidden conv
  layer; a module returned here is inserted (batch norm, layer norm).
- ``initialize(discriminator)``: once, after D is built (orthonormal init).
- ``augment(images)``: every batch D sees, real and fake, in D's step and G's,
  passes through it first (DiffAugment); it must stay differentiable.
- ``discriminate(discriminator, images)``: D's forward in both steps, to
  transform D's output (gradient normalization).
- ``penalty(discriminator=, real=, fake=)``: added to every D loss (gradient
  penalty, orthonormal penalty). It may also ask, by naming them, for
  ``d_real=`` and ``d_fake=``: D's outputs on this step's batches, with their
  graph, so a penalty on D's outputs costs no forward (LeCam, consistency).
- ``after_d_step(discriminator)``: after every D optimizer step (clipping).
- ``loss``: the adversarial loss the method is defined with, or None to use
  the suite's (WGAN-GP is tied to the Wasserstein loss).

In a fused run (a group of k runs trained as one batched model, see docs/plugins.md) every hook works as in
a solo run by default: the build hooks run per member as it is built, and augment, discriminate, penalty and
after_d_step are called once per member, with its batches, a ``discriminator`` holding views of its weights,
its own regularizer instance and its own random stream. Hooks named in ``batched`` are instead called once
for the whole group (they must treat samples, and weights, elementwise and keep no state); ``fusable =
False`` runs the regularizer's runs solo.

State a regularizer keeps across steps (moving averages, counters) belongs in
``state_dict()`` / ``load_state_dict()``: every checkpoint saves it and a
resumed run restores it. Hyperparameters are declared in ``defaults``; a suite
may override any of them and nothing else.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import shown


class BadHyperparameter(ValueError):
    pass


class Regularizer:
    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    loss: ClassVar[str | None] = None
    # fused runs: the hooks that may be called once on the whole group's batch instead of per member, and
    # whether this regularizer can be fused at all
    batched: ClassVar[frozenset[str]] = frozenset()
    fusable: ClassVar[bool] = True

    HOOKS = ("wrap_layer", "normalization", "initialize", "augment", "discriminate", "penalty", "after_d_step")
    BATCHABLE = ("augment", "discriminate", "penalty", "after_d_step")
    # what a penalty may ask for by name, beyond discriminator, real and fake
    PENALTY_EXTRAS = ("d_real", "d_fake")

    def __init__(self, **params: Any):
        self.params = self.resolve_params(params)

    @classmethod
    def resolve_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(cls.defaults))
        if unknown:
            known = ", ".join(sorted(cls.defaults)) or "none"
            raise BadHyperparameter(f"{cls.name} has no hyperparameter {shown(unknown[0])} (it has: {known})")
        out = dict(cls.defaults)
        for key, value in params.items():
            default = cls.defaults[key]
            # ints are fine where a float is declared (YAML writes 10, not 10.0)
            ok = isinstance(value, type(default)) or (type(default) is float and type(value) is int)
            if not ok or isinstance(value, bool) is not isinstance(default, bool):
                raise BadHyperparameter(
                    f"{cls.name}.{key} must be {type(default).__name__}, got {type(value).__name__} {shown(value)}"
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

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def discriminate(self, discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
        return discriminator(images)

    def penalty(self, *, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        return None

    def after_d_step(self, discriminator: nn.Module) -> None:
        return None

    @classmethod
    def penalty_extras(cls) -> tuple[str, ...]:
        """The optional arguments (d_real, d_fake) this regularizer's penalty names: the trainer passes those only."""
        try:
            params = inspect.signature(cls.penalty).parameters
        except (TypeError, ValueError):  # not a function: validate.problems says so
            return ()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return cls.PENALTY_EXTRAS
        return tuple(k for k in cls.PENALTY_EXTRAS if k in params)

    # -- state kept across steps: saved in checkpoints ------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What this regularizer has learned or counted during training (not its hyperparameters): plain values
        and tensors, saved with every checkpoint. Stateless regularizers keep the default, {}."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned, on resume (after ``initialize``)."""
        if state:
            raise ValueError(f"{self.name} keeps no state, but the checkpoint holds {sorted(state)} for it (written by "
                             "another version of the regularizer?); move the checkpoint away to start the run afresh")


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
