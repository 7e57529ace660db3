"""On a CUDA GPU (skipped elsewhere; scripts/gpu_check.sh runs them on the accelerator machine): every
regularizer trains there, the speed switches work, and the GPU agrees with the CPU where it must.
Imports only torch and the training path, so it runs without torch-fidelity."""
import math

import pytest
import torch

from benchmark.regularizers import BUILTINS
from benchmark.suite import run_spec
from benchmark.train import train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (scripts/gpu_check.sh)")]


def spec(name, **extra):
    return run_spec(name, "D", **{"dataset": "digits", "image_size": 32, "width": 0.25, "steps": 5,
                                  "batch_size": 16, "log_every": 1, "device": "cuda", **extra})


def real(size=32):
    return torch.randint(0, 256, (256, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", BUILTINS)
def test_every_regularizer_trains_on_the_gpu(name):
    outcome = train(spec(name), real(), progress=False)
    assert outcome.status == "ok" and all(math.isfinite(v) for v in outcome.history["d_loss"])
    assert next(outcome.generator.parameters()).is_cuda


@pytest.mark.parametrize("switches", [{"bf16": True}, {"channels_last": True},
                                      {"compile": True, "bf16": True, "channels_last": True}])
def test_speed_switches_train(switches):
    for name in ("spectral_norm", "wgan_gp"):
        outcome = train(spec(name, **switches), real(), progress=False)
        assert outcome.status == "ok", (name, switches, outcome.error)


def test_spectral_norm_gives_the_same_normalized_weight_on_gpu_and_cpu():
    from benchmark.regularizers.spectral_norm import SpectralNormalized

    torch.manual_seed(0)
    w = torch.randn(64, 32, 3, 3)
    cpu = SpectralNormalized(w, power_iterations=1, eps=1e-12)
    gpu = SpectralNormalized(w.cuda(), power_iterations=1, eps=1e-12).cuda()
    gpu._u.copy_(cpu._u), gpu._v.copy_(cpu._v)
    for _ in range(5):
        a, b = cpu(w), gpu(w.cuda())
    assert torch.allclose(a, b.cpu(), atol=1e-5)
