"""fuse: auto decides per group from the model's counted FLOPs and the device, and regbench plan says which."""
import subprocess
import sys

import pytest

from benchmark import fusing
from benchmark.grouping import groups
from benchmark.suite import expand, parse_suite


def suite(**overrides):
    raw = {"dataset": "digits", "image_size": 8, "width": 0.125, "regularizers": ["none", "spectral_norm"],
           "settings": ["D"], "seeds": list(range(10)), "steps": 4, "batch_size": 64, **overrides}
    return parse_suite(raw, path="t", default_name="t")


def gflop(**kw):
    args = {"architecture": "standard_cnn", "image_size": 8, "channels": 1, "width": 0.125, "z_dim": 128,
            "batch_size": 64, "g_batch_size": 64, "n_dis": 5, "d_passes": "separate", **kw}
    return fusing.update_gflop(**args)


def test_the_flop_count_scales_as_the_model_does():
    small, big = gflop(), gflop(image_size=32)
    assert 0.4 < small < 0.7 and 8 < big < 10  # the hand-made 0.53 and 8.9 GFLOP
    assert gflop(image_size=32, width=0.25) / big == pytest.approx(4, rel=0.1)  # convs go as width squared
    d_step = (gflop(image_size=32, n_dis=5) - gflop(image_size=32, n_dis=1)) / 4
    assert gflop(image_size=32, n_dis=2) == pytest.approx(gflop(image_size=32, n_dis=1) + d_step)


def test_auto_fuses_the_digits_model_on_a_cpu_and_keeps_the_32px_model_alone():
    digits = expand(suite(device="cpu"))
    assert [len(g) for g in groups(digits, "auto")] == [10, 10]
    fashion = expand(suite(dataset="fashion_mnist", image_size=32, device="cpu"))
    assert fusing.decide(fashion[0], "cpu").size == 1
    assert [len(g) for g in groups(fashion, "auto")] == [1] * 20
    # a suite still forces either way
    assert [len(g) for g in groups(fashion, 5)] == [5, 5, 5, 5]
    assert [len(g) for g in groups(digits, 1)] == [1] * 20


def test_on_cuda_auto_fuses_and_says_it_is_unmeasured_there():
    decision = fusing.decide(expand(suite(dataset="fashion_mnist", image_size=32, width=0.25))[0], "cuda")
    assert decision.size == fusing.AUTO_SIZE and "cuda" in decision.reason


def test_plan_says_what_auto_decided(tmp_path):
    import yaml

    path = tmp_path / "fm.yaml"
    path.write_text(yaml.safe_dump({"dataset": "fashion_mnist", "image_size": 32, "width": 0.125,
                                    "regularizers": ["none"], "settings": ["D"], "seeds": [0, 1], "steps": 4, "device": "cpu",
                                    "evaluation": {"fid_real": 100, "fid_fake": 10, "is_samples": 10}}))
    done = subprocess.run([sys.executable, "-m", "benchmark", "plan", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "fuse auto: 2 groups (2 of 1)" in done.stdout
    assert "auto: alone: 9.08 GFLOP per update >= 1.5 on cpu" in done.stdout
