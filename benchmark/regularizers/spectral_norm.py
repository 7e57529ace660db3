"""Spectral normalization (Miyato et al. 2018): W / sigma(W), sigma by power iteration.

Our own power iteration rather than torch's parametrization, so the protocol is
the paper's: u (and v) persist across updates, ``power_iterations`` per forward
in training mode (1 in the paper), a conv weight is read as (out, in*kh*kw),
and in eval mode the stored vectors are used unchanged; sigma = u^T W v.

Where it differs from ``torch.nn.utils.parametrizations.spectral_norm``: we do
not run 15 power iterations when a layer is wrapped (the paper's code starts
from random vectors, and so do we). The iteration order is torch's (u from v,
then v from u), so that on the same vectors both give the same weight (tested);
the paper's Algorithm 1 starts from u, the same iteration half a step earlier.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from . import register_regularizer
from .base import Regularizer


class SpectralNormalized(nn.Module):
    """A parametrization: weight -> weight / sigma_max(weight)."""

    def __init__(self, weight: torch.Tensor, *, power_iterations: int, eps: float):
        super().__init__()
        self.power_iterations = power_iterations
        self.eps = eps
        rows, cols = weight.shape[0], weight[0].numel()
        self.register_buffer("_u", F.normalize(weight.new_empty(rows).normal_(), dim=0, eps=eps))
        self.register_buffer("_v", F.normalize(weight.new_empty(cols).normal_(), dim=0, eps=eps))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        # sigma in the weight's own precision even under bf16 autocast (--bf16): the vectors are float32,
        # and a bf16 power iteration would also be a coarser estimate
        with torch.autocast(weight.device.type, enabled=False):
            mat = weight.flatten(1)
            if self.training and self.power_iterations:
                with torch.no_grad():
                    v = self._v
                    for _ in range(self.power_iterations):
                        u = _unit(mat @ v, self.eps)
                        v = _unit(mat.t() @ u, self.eps)
                    # in place, so the vectors persist across updates (and in state_dict); sigma uses the
                    # fresh tensors, which autograd may keep while the next forward updates the buffers
                    self._u.copy_(u)
                    self._v.copy_(v)
            else:  # clones: autograd must not see the in-place updates of a later training forward
                u, v = self._u.clone(), self._v.clone()
            sigma = torch.dot(u, mat @ v)
            return weight / sigma


def _unit(x: torch.Tensor, eps: float) -> torch.Tensor:
    """F.normalize(x, dim=0, eps=eps) for a vector, bit for bit, in two ops instead of four: this runs for
    every D layer at every D forward, where on small models per-op costs are most of SN's price."""
    return x / torch.linalg.vector_norm(x).clamp_min(eps)


@register_regularizer("spectral_norm")
class SpectralNorm(Regularizer):
    defaults = {"power_iterations": 1, "eps": 1e-12}

    def wrap_layer(self, layer: nn.Module) -> nn.Module:
        sn = SpectralNormalized(layer.weight.detach(), power_iterations=self.power_iterations, eps=self.eps)
        parametrize.register_parametrization(layer, "weight", sn)
        return layer
