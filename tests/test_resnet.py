"""The paper's ResNets: shapes at 32 and 48, and one D and G step per regularizer at width 16."""
import math

import pytest
import torch

from benchmark.data import load_images
from benchmark.models import create_models
from benchmark.regularizers import REGULARIZERS
from benchmark.suite import run_spec
from benchmark.train import train


@pytest.mark.parametrize("size,first_d,last_d", [(32, 16, 16), (48, 8, 128)])
def test_output_shapes(size, first_d, last_d):
    g, d = create_models("resnet", size=size, channels=3, width=0.125)
    x = g(torch.randn(4, 128))
    assert x.shape == (4, 3, size, size)
    assert d(x).shape == (4,)
    assert d.blocks[0].conv1.out_channels == first_d and d.head.in_features == last_d


@pytest.mark.parametrize("name", REGULARIZERS.names())
def test_one_step_per_regularizer(name):
    spec = run_spec(name, "C", dataset="digits", image_size=16, architecture="resnet", width=0.125, steps=1,
                    batch_size=8, log_every=1)
    outcome = train(spec, load_images("digits", split="train", size=16), progress=False)
    assert outcome.status == "ok"
    assert all(math.isfinite(v) for v in outcome.history["d_loss"] + outcome.history["g_loss"])
    grads = [p.grad for p in outcome.generator.parameters()]
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
