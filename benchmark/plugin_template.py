"""`regbench new-plugin NAME`: a starter regularizer file with every hook stubbed and explained.

As written it is the identity (it changes nothing), so `regbench check-plugin NAME --plugin FILE` passes
on it; an author then fills in the hooks their method needs and deletes the rest.
"""
from __future__ import annotations

TEMPLATE = '''"""{name}: <one line: what this regularizer does, and the paper it comes from>.

A regbench regularizer plugin (docs/plugins.md). Check it with
    regbench check-plugin {name} --plugin {filename}
and use it from a suite:
    plugins: [{filename}]
    regularizers: [{name}, {{name: {name}, params: {{strength: 0.5}}}}]
"""
import torch
from torch import nn

from benchmark.regularizers import Regularizer, register_regularizer


@register_regularizer("{name}")
class {cls}(Regularizer):
    # Hyperparameters and their defaults: a suite may set these (by name, same type) and nothing else.
    # Read them as self.<name>.
    defaults = {{"strength": 1.0}}

    # The adversarial loss the method is defined with ("standard", "hinge", "wasserstein"), or None to
    # use the suite's (WGAN-GP, for one, is tied to "wasserstein").
    loss = None

    # Fused runs (several seeds trained as one batched model): every hook is called per member by default, on
    # views of that member's weights, with its own random stream: always correct. Name here the hooks that may
    # be called once on the whole group's batch instead (they must act per sample and keep no state; a penalty
    # must be a mean of per-sample terms), e.g. frozenset({{"penalty"}}); docs/plugins.md, "Fused runs".
    # check-plugin verifies that a fused group equals its solo runs.
    batched = frozenset()

    # Delete every hook you do not need: the trainer only calls the ones a regularizer overrides.

    def wrap_layer(self, layer: nn.Module) -> nn.Module:
        """While D is built: each conv/linear layer passes through here; return the module to use in its
        place (e.g. register a parametrization on layer.weight, as spectral norm does)."""
        return layer

    def normalization(self, num_features: int) -> nn.Module | None:
        """While D is built: after each hidden conv layer (num_features channels); a module returned here is
        inserted there (batch norm, layer norm). None inserts nothing."""
        return None

    def initialize(self, discriminator: nn.Module) -> None:
        """Once, after D is built (orthonormal initialization)."""

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """Every batch D sees, real and fake, in D's step and in G's, passes through here first (DiffAugment).
        Keep the shape and stay differentiable: G's gradient flows back through it."""
        return images

    def discriminate(self, discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
        """D's forward in both steps: return D's output on images, transformed if you like (gradient
        normalization). One output per image."""
        return discriminator(images)

    def penalty(self, *, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor | None:
        """Added to every D loss. real and fake are the batches D just saw, in [-1, 1] (augmented if augment is
        used; fake detached from G); d_real and d_fake are D's outputs on them, with their graph (drop these two
        arguments if you do not need them). Return a scalar tensor (keep it differentiable: its gradient trains
        D), or None for no penalty."""
        return None

    def after_d_step(self, discriminator: nn.Module) -> None:
        """After every D optimizer step (weight clipping); change weights in place under torch.no_grad()."""

    def state_dict(self) -> dict:
        """State kept across steps (moving averages, counters): saved in every checkpoint, so a resumed run
        continues it. Plain values and tensors."""
        return {{}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict returned, when a run resumes from a checkpoint."""
'''


def render(name: str, filename: str) -> str:
    cls = "".join(part.capitalize() for part in name.split("_")) or "MyRegularizer"
    return TEMPLATE.format(name=name, cls=cls, filename=filename)
