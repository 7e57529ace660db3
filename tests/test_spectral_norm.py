"""Our spectral norm against torch.nn.utils.parametrizations.spectral_norm, on the same weights and vectors."""
import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as torch_spectral_norm

from benchmark.regularizers import create_regularizer


@pytest.mark.parametrize("make", [lambda: nn.Conv2d(3, 8, 4, 2, 1), lambda: nn.Linear(20, 5)])
@pytest.mark.parametrize("iterations", [1, 3])
def test_same_normalized_weight_as_torch_after_the_same_iterations(make, iterations):
    torch.manual_seed(0)
    ours, theirs = make(), make()
    theirs.load_state_dict(ours.state_dict())
    create_regularizer("spectral_norm", power_iterations=iterations).wrap_layer(ours)
    torch_spectral_norm(theirs, n_power_iterations=iterations)
    ours_sn = ours.parametrizations.weight[0]
    theirs_sn = theirs.parametrizations.weight[0]
    with torch.no_grad():  # start both from the same vectors (torch ran 15 iterations at wrap time; we did not)
        ours_sn._u.copy_(theirs_sn._u)
        ours_sn._v.copy_(theirs_sn._v)
    for _ in range(4):  # several training-mode updates: u and v persist in both
        torch.testing.assert_close(ours.weight, theirs.weight, atol=1e-5, rtol=1e-5)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours.weight, theirs.weight, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours_sn._u, theirs_sn._u, atol=1e-6, rtol=1e-5)


def test_the_unit_vector_shortcut_is_f_normalize_bit_for_bit():
    import torch.nn.functional as F

    from benchmark.regularizers.spectral_norm import _unit

    g = torch.Generator().manual_seed(0)
    for x in [torch.randn(n, generator=g) * scale for n in (1, 8, 144, 4096) for scale in (1e-8, 1.0, 1e6)] + [
            torch.zeros(16)]:
        assert torch.equal(_unit(x, 1e-12), F.normalize(x, dim=0, eps=1e-12))
