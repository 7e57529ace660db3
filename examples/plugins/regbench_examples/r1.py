"""R1 (Mescheder, Geiger and Nowozin, "Which Training Methods for GANs do actually Converge?", ICML 2018):
gamma / 2 * E[||grad_x D(x)||^2] on real data only, added to D's loss."""
import torch

from benchmark.regularizers import Regularizer


class R1(Regularizer):
    defaults = {"gamma": 10.0}  # the paper's value for CIFAR-10-sized images; suites may set it
    loss = None  # R1 was proposed with the non-saturating loss, the suite's default
    batched = frozenset({"penalty"})  # fused runs: a mean of per-sample terms, one call for the whole group

    def penalty(self, *, discriminator, real, fake):
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
        return 0.5 * self.gamma * grad.flatten(1).pow(2).sum(1).mean()
