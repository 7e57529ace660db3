"""Weight clipping (Arjovsky et al. 2017), with the standard loss as in Miyato et al.'s comparison.

What is clipped: Miyato et al. (2018, Sec. 4) set "the clipping constant c at 0.01 for the convolutional
weight of each layer", so by default the weights of D's conv and dense layers are clipped and the biases
are not. ``all_parameters: true`` clips every D parameter, biases included, as the WGAN reference code does.
"""
import torch

from . import register_regularizer
from .base import Regularizer, weight_layers


@register_regularizer("weight_clipping")
class WeightClipping(Regularizer):
    defaults = {"c": 0.01, "all_parameters": False}
    batched = frozenset({"after_d_step"})  # elementwise: the stacked weights clip as each member's would

    @torch.no_grad()
    def after_d_step(self, discriminator):
        params = (discriminator.parameters() if self.all_parameters
                  else (layer.weight for layer in weight_layers(discriminator)))
        for p in params:
            p.clamp_(-self.c, self.c)
