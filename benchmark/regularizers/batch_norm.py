"""Batch normalization after each hidden conv layer of D, without learned scale or shift."""
from torch import nn

from . import register_regularizer
from .base import Regularizer


@register_regularizer("batch_norm")
class BatchNorm(Regularizer):
    def normalization(self, num_features):
        return nn.BatchNorm2d(num_features, affine=False)
