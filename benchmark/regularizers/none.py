"""The baseline: an unregularized discriminator."""
from . import register_regularizer
from .base import Regularizer


@register_regularizer("none")
class NoRegularization(Regularizer):
    pass
