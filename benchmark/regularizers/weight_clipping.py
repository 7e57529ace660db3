"""Weight clipping (Arjovsky et al. 2017), with the standard loss as in Miyato et al.'s comparison."""
import torch

from . import register_regularizer
from .base import Regularizer


@register_regularizer("weight_clipping")
class WeightClipping(Regularizer):
    defaults = {"c": 0.01}

    @torch.no_grad()
    def after_d_step(self, discriminator):
        for p in discriminator.parameters():
            p.clamp_(-self.c, self.c)
