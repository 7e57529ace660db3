"""A regularizer's hooks as the harness calls them: each result checked where it is made, so that a plugin
returning the wrong thing fails with its own name and what it gave, not later in torch. Solo runs, fused
groups and `regbench check-plugin` all go through these checks.
"""
from __future__ import annotations

import torch
from torch import nn

from .regularizers import Regularizer


class HookError(TypeError):
    """A regularizer hook returned what the harness cannot use; the message names the hook and what it gave."""


def returned(value) -> str:
    """What a hook gave back, as its error message says it: None, a tensor's shape, or a type."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {list(value.shape)}"
    return "None" if value is None else f"a {type(value).__name__}"


def checked_penalty(reg_name: str, extra):
    """A penalty hook's result: None (it declined, as the base class's does) or a scalar tensor."""
    if extra is not None and (not isinstance(extra, torch.Tensor) or extra.dim() != 0):
        raise HookError(f"{reg_name}.penalty returned {returned(extra)}; it must return a scalar tensor (shape []), "
                        "e.g. its per-sample terms' .mean(), or None")
    return extra


def checked_layer_hooks(reg: Regularizer):
    """wrap_layer and normalization as the models call them: a hook that returns None fails with its own
    name, not later as "'NoneType' object is not callable"."""
    def wrap_layer(layer):
        out = reg.wrap_layer(layer)
        if not isinstance(out, nn.Module):
            raise HookError(f"{reg.name}.wrap_layer({type(layer).__name__}) returned {returned(out)}; it must "
                            "return an nn.Module (the layer itself, or the layer wrapped)")
        return out

    def normalization(num_features):
        out = reg.normalization(num_features)
        if out is not None and not isinstance(out, nn.Module):
            raise HookError(f"{reg.name}.normalization({num_features}) returned {returned(out)}; it must return "
                            "an nn.Module or None")
        return out

    return wrap_layer, normalization
