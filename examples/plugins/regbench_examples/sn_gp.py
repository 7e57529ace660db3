"""Spectral normalization with the WGAN-GP gradient penalty: the combination Miyato et al. (2018) suggest
in their conclusion. Built by composing the registered `spectral_norm` and `wgan_gp` regularizers through
the public API, so it measures exactly those two parts together."""
from benchmark.regularizers import Regularizer, create_regularizer


class SpectralNormGP(Regularizer):
    defaults = {"gp_lambda": 10.0, "power_iterations": 1}
    loss = "wasserstein"  # the gradient penalty's loss, as in WGAN-GP
    batched = frozenset({"penalty"})  # fused runs: WGAN-GP's penalty, a mean of per-sample terms

    def __init__(self, **params):
        super().__init__(**params)
        self.sn = create_regularizer("spectral_norm", power_iterations=self.power_iterations)
        self.gp = create_regularizer("wgan_gp", gp_lambda=self.gp_lambda)

    def wrap_layer(self, layer):
        return self.sn.wrap_layer(layer)

    def penalty(self, *, discriminator, real, fake):
        # The penalty's extra forward runs D in eval mode, so spectral norm's power iteration advances
        # once per D update (as in the paper) rather than twice. D has no batch statistics to differ.
        was_training = discriminator.training
        discriminator.eval()
        try:
            return self.gp.penalty(discriminator=discriminator, real=real, fake=fake)
        finally:
            discriminator.train(was_training)
