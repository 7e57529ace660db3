"""Weight normalization (Salimans & Kingma 2016) without learned scale: each output row has unit norm."""
import torch
from torch import nn
from torch.nn.utils import parametrize

from . import register_regularizer
from .base import Regularizer


class RowNormalized(nn.Module):
    def __init__(self, eps: float):
        super().__init__()
        self.eps = eps

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        norms = weight.flatten(1).norm(dim=1).clamp_min(self.eps)
        return weight / norms.view(-1, *([1] * (weight.dim() - 1)))


@register_regularizer("weight_norm")
class WeightNorm(Regularizer):
    defaults = {"eps": 1e-12}

    def wrap_layer(self, layer):
        parametrize.register_parametrization(layer, "weight", RowNormalized(self.eps))
        return layer
