"""Batch normalization after each hidden conv layer of D: a learned shift, the scale fixed at 1.

The paper drops the learned scale ("without learned scale"); the authors' code keeps the shift
(chainer-gan-lib's DCGANDiscriminator: ``L.BatchNormalization(ch, use_gamma=False)``).
"""
from torch import nn

from . import register_regularizer
from .base import Regularizer, shift_only


@register_regularizer("batch_norm")
class BatchNorm(Regularizer):
    def normalization(self, num_features):
        return shift_only(nn.BatchNorm2d(num_features))
