"""Layer normalization (over C, H, W) after each hidden conv layer of D, without learned scale.

GroupNorm with one group is layer norm over (C, H, W) and needs no spatial size.
"""
from torch import nn

from . import register_regularizer
from .base import Regularizer


@register_regularizer("layer_norm")
class LayerNorm(Regularizer):
    defaults = {"eps": 1e-5}

    def normalization(self, num_features):
        return nn.GroupNorm(1, num_features, eps=self.eps, affine=False)
