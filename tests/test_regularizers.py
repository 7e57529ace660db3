"""Every registered regularizer: one real D and G step on a tiny model, then its defining property."""
import math

import pytest
import torch
from torch import nn

from benchmark.data import load_images
from benchmark.regularizers import REGULARIZERS, create_regularizer, weight_layers
from benchmark.regularizers.orthonormal import orthonormal_penalty
from benchmark.regularizers.wgan_gp import gradient_penalty
from benchmark.suite import run_spec
from benchmark.backends import build
from benchmark.train import train


def tiny_spec(regularizer, **overrides):
    return run_spec(regularizer, {"name": "t", "lr": 1e-3, "beta1": 0.5, "beta2": 0.9, "n_dis": 1},
                    **{"dataset": "digits", "image_size": 16, "width": 0.25, "steps": 1, "batch_size": 8,
                       "log_every": 1, **overrides})


def trained(name):
    spec = tiny_spec(name)
    real = load_images("digits", split="train", size=spec.image_size)
    return spec, train(spec, real, progress=False)


def largest_singular_values(d):
    return [torch.linalg.svdvals(layer.weight.detach().flatten(1))[0].item() for layer in weight_layers(d)]


def check_spectral_norm(spec, outcome):
    d = outcome.discriminator.train()
    x = torch.randn(8, 1, spec.image_size, spec.image_size)
    with torch.no_grad():
        for _ in range(100):  # power iterations converge across forwards: u persists
            d(x)
    for sigma in largest_singular_values(d):
        assert sigma == pytest.approx(1.0, abs=1e-3)


def check_weight_clipping(spec, outcome):
    c = dict(spec.params)["c"]
    for layer in weight_layers(outcome.discriminator):
        assert layer.weight.abs().max().item() <= c + 1e-7


def check_weight_norm(spec, outcome):
    for layer in weight_layers(outcome.discriminator):
        norms = layer.weight.detach().flatten(1).norm(dim=1)
        torch.testing.assert_close(norms, torch.ones_like(norms))


def check_orthonormal(spec, outcome):
    # the step moved D away from its orthonormal init, so the penalty is positive, and the init gives zero
    penalty = create_regularizer("orthonormal").penalty(discriminator=outcome.discriminator, real=None, fake=None)
    assert penalty.item() > 0
    _, fresh, _ = build(spec, channels=1, device=torch.device("cpu"))
    for layer in weight_layers(fresh):
        assert orthonormal_penalty(layer.weight).item() == pytest.approx(0.0, abs=1e-9)


def _check_norm_layers(kind):
    def check(spec, outcome):
        found = [m for m in outcome.discriminator.modules() if isinstance(m, kind)]
        assert len(found) == 6  # after each of D's seven convs but the input one
        # the paper's: no learned scale; the authors' code: a learned shift, one parameter per channel
        assert all(dict(m.named_parameters()).keys() == {"bias"} and torch.equal(m.weight, torch.ones_like(m.bias))
                   for m in found)
        assert all(m.bias.shape == (m.num_features if kind is nn.BatchNorm2d else m.num_channels,) for m in found)
        # G is untouched: its layers (its own BN included) are exactly the unregularized G's
        baseline = trained("none")[1].generator
        assert [type(m) for m in outcome.generator.modules()] == [type(m) for m in baseline.modules()]
    return check


def check_none(spec, outcome):
    d = outcome.discriminator
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in d.modules())
    assert not any(hasattr(layer, "parametrizations") for layer in weight_layers(d))


PROPERTIES = {
    "spectral_norm": check_spectral_norm,
    "weight_clipping": check_weight_clipping,
    "weight_norm": check_weight_norm,
    "orthonormal": check_orthonormal,
    "batch_norm": _check_norm_layers(nn.BatchNorm2d),
    "layer_norm": _check_norm_layers(nn.GroupNorm),
    "none": check_none,
}


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_one_step_finite_and_defining_property(name):
    spec, outcome = trained(name)
    assert outcome.status == "ok"
    assert all(math.isfinite(v) for v in outcome.history["d_loss"] + outcome.history["g_loss"])
    assert outcome.steps_done == 1
    if name in PROPERTIES:
        PROPERTIES[name](spec, outcome)


def test_every_builtin_has_a_property_check():
    from benchmark.regularizers import BUILTINS

    assert set(BUILTINS) - {"wgan_gp"} <= set(PROPERTIES)  # wgan_gp: its own test below


def test_gradient_penalty_matches_closed_form():
    # D(x) = w . x has gradient w everywhere, so the penalty is lambda * (||w|| - 1)^2 exactly
    w = torch.tensor([[3.0, 4.0, 0.0, 0.0]])  # ||w|| = 5
    d = nn.Sequential(nn.Flatten(), nn.Linear(4, 1))
    with torch.no_grad():
        d[1].weight.copy_(w)
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    reg = create_regularizer("wgan_gp")
    assert reg.loss == "wasserstein"
    assert reg.penalty(discriminator=d, real=real, fake=fake).item() == pytest.approx(10 * (5 - 1) ** 2)
    assert gradient_penalty(d, real, fake).item() == pytest.approx(16.0)


def test_orthonormal_penalty_zero_for_orthogonal_positive_otherwise():
    q, _ = torch.linalg.qr(torch.randn(6, 6))
    assert orthonormal_penalty(q).item() == pytest.approx(0.0, abs=1e-9)
    assert orthonormal_penalty(2 * q).item() > 1.0
    wide = torch.nn.init.orthogonal_(torch.empty(4, 3, 3, 3))  # (out, in*kh*kw) = (4, 27): rows orthonormal
    assert orthonormal_penalty(wide).item() == pytest.approx(0.0, abs=1e-9)


def test_spectral_norm_is_frozen_in_eval_mode():
    spec, outcome = trained("spectral_norm")
    d = outcome.discriminator.eval()
    before = {k: v.clone() for k, v in d.state_dict().items()}
    with torch.no_grad():
        d(torch.randn(4, 1, spec.image_size, spec.image_size))
    for key, value in d.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_unknown_hyperparameter_is_refused():
    from benchmark.regularizers import BadHyperparameter

    with pytest.raises(BadHyperparameter, match="no hyperparameter 'lambda'"):
        create_regularizer("wgan_gp", **{"lambda": 5.0})
