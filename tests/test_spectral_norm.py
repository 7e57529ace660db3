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
