"""k modules of one architecture as one batched module: what a fused group trains.

The members' parameters and buffers are stacked along a leading member axis (torch.func.stack_module_state)
and held by one template copy of the architecture; the forward runs every member on its own block of the
input through torch.func.vmap over functional_call, which turns each conv into one grouped conv (HFTA's
horizontal fusion, by the batching rules instead of hand-written fused layers). Buffers updated in place
(batch norm's running statistics, spectral norm's power-iteration vectors) are updated in their member's
slice. Member i is also available alone, as the template with views of its slices swapped in
(``call_member``), for hooks that must see one member's weights.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


class _Scope(nn.Module):
    """functional_call runs a module's forward; a hook needs the module itself: this forward hands it over."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, fn: Callable):
        return fn(self.module)


def _set(module: nn.Module, name: str, tensor: torch.Tensor, *, buffer: bool) -> None:
    owner_name, _, leaf = name.rpartition(".")
    owner = module.get_submodule(owner_name)
    (owner._buffers if buffer else owner._parameters)[leaf] = tensor


class Stacked(nn.Module):
    """``members`` (built alike, each from its own seed) as one module whose forward takes the members'
    inputs concatenated, k blocks of equal size, and returns their outputs concatenated the same way."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.k = len(members)
        params, buffers = stack_module_state(members)
        self.template = copy.deepcopy(members[0])
        for name, value in params.items():
            _set(self.template, name, nn.Parameter(value.detach()), buffer=False)
        for name, value in buffers.items():
            _set(self.template, name, value, buffer=True)
        self._param_names, self._buffer_names = list(params), list(buffers)
        self._scope = _Scope(self.template)

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every stacked parameter and buffer by its name in one member's module (leading axis: member)."""
        t = self.template
        return {**dict(t.named_parameters()), **dict(t.named_buffers())}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, m = self.k, x.shape[0] // self.k
        per_member, dim = x.reshape(k, m, *x.shape[1:]), 0
        def one(tensors, inputs):
            return functional_call(self.template, tensors, (inputs,))

        # randomness "error": a member's forward that draws random numbers (dropout) would draw them from no
        # member's stream; it fails here instead of silently differing from the solo run
        out = vmap(one, in_dims=(0, dim), randomness="error")(self.tensors(), per_member)
        return out.reshape(x.shape[0], *out.shape[2:])

    def call_member(self, i: int, fn: Callable[[nn.Module], object], *, grad: bool = True):
        """``fn(module)`` with the template holding member i's slices: views, so in-place updates land in the
        stack and (``grad``) gradients flow to it."""
        views = {name: (t[i] if grad else t.detach()[i]) for name, t in self.tensors().items()}
        return functional_call(self._scope, {f"module.{n}": v for n, v in views.items()}, (fn,))

    @torch.no_grad()
    def copy_member_into(self, i: int, module: nn.Module) -> nn.Module:
        """Member i's current weights and buffers, copied into ``module`` (one member's architecture)."""
        own = {**dict(module.named_parameters()), **dict(module.named_buffers())}
        for name, t in self.tensors().items():
            own[name].copy_(t[i])
        return module
