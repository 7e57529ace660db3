"""Layer normalization (over C, H, W) after each hidden conv layer of D: a learned shift per channel, the
scale fixed at 1, as batch_norm (the paper drops only the learned scale).

GroupNorm with one group is layer norm over (C, H, W) and needs no spatial size.
"""
from torch import nn

from . import register_regularizer
from .base import Regularizer, shift_only


@register_regularizer("layer_norm")
class LayerNorm(Regularizer):
    defaults = {"eps": 1e-5}

    def normalization(self, num_features):
        return shift_only(nn.GroupNorm(1, num_features, eps=self.eps))
