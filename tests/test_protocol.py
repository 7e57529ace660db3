"""The training and scoring protocol (docs/protocol.md): one test per option, each against what the option
claims to do, and the inputs that would record a false protocol refused before anything runs."""
import json
import math

import pytest
import torch
from torch import nn

from benchmark.cli import main
from benchmark.data import load_images, split_size
from benchmark.latent import sample_latent
from benchmark.metrics import Scorer
from benchmark.models import create_models
from benchmark.regularizers import create_regularizer, weight_layers
from benchmark.regularizers.spectral_norm import SpectralNormalized
from benchmark.schema import Evaluation
from benchmark.suite import parse_suite, run_spec
from benchmark.steps import solo_steps
from benchmark.backends import build
from benchmark.train import train


def spec_for(regularizer="none", **overrides):
    return run_spec(regularizer, "D", **{"dataset": "digits", "image_size": 8, "width": 0.125, "steps": 4,
                                         "batch_size": 8, "log_every": 1, **overrides})


@pytest.fixture(scope="module")
def real():
    return load_images("digits", split="train", size=8)


def batch(n=8):
    return load_images("digits", split="train", size=8)[:n].float() / 127.5 - 1


# -- init ----------------------------------------------------------------------------------------
def test_paper_init_of_the_standard_cnn_is_n_0_002_with_zero_biases():
    torch.manual_seed(0)
    g, d = create_models("standard_cnn", size=32, channels=3, width=1.0)
    for net in (g, d):
        for layer in weight_layers(net):
            assert layer.weight.std().item() == pytest.approx(0.02, rel=0.1), layer
            assert layer.weight.mean().abs().item() < 0.002
            assert torch.count_nonzero(layer.bias) == 0
    torch.manual_seed(0)
    _, d_torch = create_models("standard_cnn", size=32, channels=3, width=1.0, init="torch")
    first = weight_layers(d_torch)[0]  # PyTorch's kaiming-uniform: 1/sqrt(3 * fan_in) std, non-zero biases
    assert first.weight.std().item() == pytest.approx(1 / math.sqrt(3 * 27), rel=0.1)
    assert torch.count_nonzero(first.bias) > 0


def test_paper_init_of_the_resnet_is_glorot_uniform_with_the_authors_gains():
    g, d = create_models("resnet", size=32, channels=3, width=0.5)

    def glorot_std(layer, gain):
        receptive = layer.weight[0][0].numel()
        fan_in, fan_out = layer.weight.shape[1] * receptive, layer.weight.shape[0] * receptive
        return gain * math.sqrt(2.0 / (fan_in + fan_out))

    block = d.blocks[1]
    for layer, gain in ((block.conv1, math.sqrt(2)), (block.conv2, math.sqrt(2)), (block.shortcut, 1.0),
                        (d.head, 1.0), (g.blocks[0].conv1, math.sqrt(2)), (g.blocks[0].shortcut, 1.0),
                        (g.dense, 1.0)):
        assert layer.weight.std().item() == pytest.approx(glorot_std(layer, gain), rel=0.1)
        assert torch.count_nonzero(layer.bias) == 0


def test_init_is_part_of_the_run_and_torch_gives_back_the_old_models():
    paper, torch_init = spec_for(), spec_for(init="torch")
    assert paper.init == "paper" and torch_init.init == "torch" and paper.run_id != torch_init.run_id
    torch.manual_seed(0)
    g1, d1, _ = build(torch_init, channels=1, device=torch.device("cpu"))
    torch.manual_seed(0)
    g2, d2 = create_models("standard_cnn", size=8, channels=1, width=0.125, init="torch")
    for a, b in zip([*g1.parameters(), *d1.parameters()], [*g2.parameters(), *d2.parameters()]):
        assert torch.equal(a, b)


def test_orthonormal_init_still_replaces_the_architectures_init():
    _, d, _ = build(spec_for("orthonormal"), channels=1, device=torch.device("cpu"))
    w = weight_layers(d)[1].weight.flatten(1)
    gram = w @ w.t() if w.shape[0] <= w.shape[1] else w.t() @ w
    torch.testing.assert_close(gram, torch.eye(gram.shape[0]), atol=1e-5, rtol=0)


# -- architectures: Table 3 against the authors' public SN-DCGAN --------------------------------------
def _d_shape(arch):
    _, d = create_models(arch, size=32, channels=3, width=1.0)
    convs = [m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)]
    slopes = {m.negative_slope for m in d.modules() if isinstance(m, nn.LeakyReLU)}
    return convs, slopes


def test_sndcgan_differs_from_table3_only_in_d_channels_and_slope():
    assert _d_shape("standard_cnn") == ([64, 64, 128, 128, 256, 256, 512], {0.1})
    assert _d_shape("sndcgan") == ([64, 128, 128, 256, 256, 512, 512], {0.2})
    torch.manual_seed(0)
    g1, _ = create_models("standard_cnn", size=32, channels=3)
    torch.manual_seed(0)
    g2, _ = create_models("sndcgan", size=32, channels=3)
    assert [p.shape for p in g1.parameters()] == [p.shape for p in g2.parameters()]


# -- latent --------------------------------------------------------------------------------------------
def test_latent_uniform_is_u_minus1_1_and_reaches_training(real):
    z = sample_latent("uniform", 20000, 4, device="cpu")
    assert z.min() >= -1 and z.max() <= 1 and z.std().item() == pytest.approx(1 / math.sqrt(3), rel=0.02)
    assert sample_latent("normal", 20000, 4, device="cpu").abs().max() > 1
    spec = spec_for(latent="uniform")
    g, d, reg = build(spec, channels=1, device=torch.device("cpu"))
    seen = []
    g.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    steps = solo_steps(spec, g, d, reg, torch.device("cpu"))
    steps.d_step(batch()), steps.g_step(spec.g_batch_size)
    assert len(seen) == 2 and all(z.abs().max() <= 1 for z in seen)


# -- normalization layers: the shift is learned, the scale is not -----------------------------------
@pytest.mark.parametrize("name,kind", [("batch_norm", nn.BatchNorm2d), ("layer_norm", nn.GroupNorm)])
def test_norms_learn_only_a_shift(real, name, kind):
    outcome = train(spec_for(name, steps=2), real, progress=False)
    norms = [m for m in outcome.discriminator.modules() if isinstance(m, kind)]
    assert norms and all(torch.equal(m.weight, torch.ones_like(m.bias)) for m in norms)  # the scale: fixed at 1
    per_channel = sum(m.bias.numel() for m in norms)
    learned = sum(p.numel() for m in norms for p in m.parameters())
    assert learned == per_channel == sum(weight_layers(outcome.discriminator)[i].out_channels for i in range(1, 7))
    assert any(torch.count_nonzero(m.bias) for m in norms)  # trained: the shift moved off its zero init


# -- D passes ------------------------------------------------------------------------------------
def _power_iterations_per_d_update(d_passes, regularizer="spectral_norm"):
    spec = spec_for(regularizer, d_passes=d_passes)
    g, d, reg = build(spec, channels=1, device=torch.device("cpu"))
    steps = solo_steps(spec, g, d, reg, torch.device("cpu"))
    counts = []
    for m in d.modules():
        if isinstance(m, SpectralNormalized):
            m.register_forward_hook(lambda mod, args, out: counts.append(mod.training))
    steps.d_step(batch())
    layers = sum(isinstance(m, SpectralNormalized) for m in d.modules())
    return sum(counts) / layers, steps.joint


def test_d_passes_sets_the_power_iterations_per_d_update():
    assert _power_iterations_per_d_update("separate") == (2, False)
    assert _power_iterations_per_d_update("joint") == (1, True)


def test_joint_falls_back_to_separate_under_batch_statistics_and_the_result_says_so(real):
    assert train(spec_for("batch_norm", d_passes="joint", steps=1), real, progress=False).d_passes == "separate"
    assert train(spec_for("none", d_passes="joint", steps=1), real, progress=False).d_passes == "joint"


# -- G batch and lr decay -------------------------------------------------------------------------
def test_g_batch_size_is_the_g_steps_batch(real):
    spec = spec_for(g_batch_size=12, steps=1)
    assert spec.batch_size == 8 and spec.g_batch_size == 12
    assert spec_for().g_batch_size == 8  # default: batch_size
    g, d, reg = build(spec, channels=1, device=torch.device("cpu"))
    sizes = []
    g.register_forward_hook(lambda m, args, out: sizes.append(out.shape[0]))
    steps = solo_steps(spec, g, d, reg, torch.device("cpu"))
    steps.d_step(batch(spec.batch_size)), steps.g_step(spec.g_batch_size)
    assert sizes == [8, 12]


def test_linear_lr_decay_falls_to_zero_over_the_run_and_none_keeps_lr():
    for decay, want in (("linear", [1e-3 * (1 - k / 4) for k in range(4)]), ("none", [1e-3] * 4)):
        spec = spec_for(lr_decay=decay, steps=4)
        g, d, reg = build(spec, channels=1, device=torch.device("cpu"))
        steps = solo_steps(spec, g, d, reg, torch.device("cpu"))
        seen = []
        for step in range(1, 5):
            steps.set_lr(step)
            seen.append((steps.members.opt_d.param_groups[0]["lr"], steps.members.opt_g.param_groups[0]["lr"]))
        assert [d for d, _ in seen] == pytest.approx(want) and [g for _, g in seen] == pytest.approx(want), decay


# -- weight clipping ------------------------------------------------------------------------------
def test_weight_clipping_clips_weights_and_leaves_biases_unless_asked():
    for all_parameters, bias_after in ((False, 1.0), (True, 0.01)):
        reg = create_regularizer("weight_clipping", all_parameters=all_parameters)
        _, d = create_models("standard_cnn", size=8, channels=1, width=0.125)
        with torch.no_grad():
            for layer in weight_layers(d):
                layer.weight.fill_(0.5), layer.bias.fill_(1.0)
        reg.after_d_step(d)
        for layer in weight_layers(d):
            assert layer.weight.max().item() == pytest.approx(0.01)
            assert layer.bias.max().item() == pytest.approx(bias_after)


# -- recorded protocol: the counts actually used ------------------------------------------------------
def test_protocol_records_the_real_images_actually_used():
    train_size = split_size("digits", "train", None)
    scorer = Scorer(dataset="digits", image_size=8, evaluation=Evaluation(is_samples=100, fid_real=5000, fid_fake=100))
    assert scorer.protocol()["fid_real"] == train_size == len(scorer.reference["features"])


def test_real_data_row_scores_is_on_its_own_split_and_records_the_counts():
    ev = Evaluation(is_samples=1000, is_splits=10, fid_real=1438, fid_fake=300, real_is_split="train")
    row = Scorer(dataset="digits", image_size=8, evaluation=ev).real_data()
    assert (row["split"], row["samples"], row["is_split"], row["is_samples"]) == ("test", 300, "train", 1000)
    default = Scorer(dataset="digits", image_size=8, evaluation=Evaluation(is_samples=1000, fid_real=1438,
                                                                           fid_fake=1000)).real_data()
    assert (default["split"], default["samples"], default["is_split"], default["is_samples"]) == ("test", 359,
                                                                                                  "test", 359)


def test_score_records_the_splits_size_and_refuses_more(tmp_path, capsys):
    import numpy as np

    np.savez(tmp_path / "x.npz", images=load_images("digits", split="test", size=8)[:50].numpy())
    assert main(["score", str(tmp_path / "x.npz"), "--dataset", "digits", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["protocol"]["fid_real"] == split_size("digits", "train", None)
    assert main(["score", str(tmp_path / "x.npz"), "--dataset", "digits", "--fid-real", "100000"]) == 2
    err = capsys.readouterr().err
    assert "100000" in err and "1,438 images" in err and len(err.strip().splitlines()) == 1


def test_a_suite_without_fid_real_gets_the_whole_split_up_to_10000():
    raw = {"dataset": "digits", "regularizers": ["none"], "settings": ["C"], "steps": 1}
    assert parse_suite(raw, path="t", default_name="t").evaluation.fid_real == 1438
    cifar = parse_suite({**raw, "dataset": "cifar10", "evaluation": {"fid_real_split": "test"}}, path="t",
                        default_name="t")
    assert cifar.evaluation.fid_real == 10000


FALSE_PROTOCOL = [  # (suite change, field, words the message must have: the value and the limit)
    ({"evaluation": {"fid_real": 100000}}, "evaluation.fid_real", ("100000", "1,438 images", "at most 1438")),
    ({"settings": [{"name": "x", "lr": math.nan, "beta1": 0.5, "beta2": 0.9, "n_dis": 1}]}, "settings[0].lr",
     ("finite", "nan")),
    ({"settings": [{"name": "x", "lr": math.inf, "beta1": 0.5, "beta2": 0.9, "n_dis": 1}]}, "settings[0].lr",
     ("finite", "inf")),
    ({"width": 1.0e9}, "width", ("1000000000.0", "at most 16")),
    ({"regularizers": [{"name": "wgan_gp", "params": {"gp_lambda": math.nan}}]}, "regularizers[0].params",
     ("finite", "nan")),
    ({"batch_size": 10 ** 9}, "batch_size", ("1000000000", "8192")),
    ({"evaluation": {"fid_real_split": "validation"}}, "evaluation.fid_real_split", ("train, test, all",)),
    ({"evaluation": {"is_samples": 10 ** 9}}, "evaluation.is_samples", ("at most 200,000",)),
    ({"d_passes": "both"}, "d_passes", ("separate, joint",)),
    ({"init": "xavier"}, "init", ("paper, torch",)),
]


@pytest.mark.parametrize("change,field,words", FALSE_PROTOCOL)
def test_inputs_that_would_record_a_false_protocol_exit_2_and_write_nothing(write_suite, tmp_path, capsys,
                                                                             change, field, words):
    path = write_suite(change)
    for command in (["plan", str(path)], ["run", str(path), "--results", str(tmp_path / "results"), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{path}: {field}: " in err and len(err.strip().splitlines()) == 1, err
        assert all(w in err for w in words), err
    assert not (tmp_path / "results").exists()


def test_images_round_trip_through_the_unit_range_and_round_to_nearest():
    from benchmark.data import to_uint8, to_unit_range

    every = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    assert torch.equal(to_uint8(to_unit_range(every.clone())), every)  # real data: x / 127.5 - 1 and back
    # a sample between two levels goes to the nearer one (the authors' astype(uint8) would truncate 10.7 to 10)
    assert to_uint8(torch.tensor([10.7 / 127.5 - 1, 10.3 / 127.5 - 1])).tolist() == [11, 10]


def test_yaml_floats_without_a_dot_or_exponent_sign_are_numbers(tmp_path, capsys):
    # PyYAML alone reads 1e-4 and 1.0e9 as strings; a suite means numbers
    path = tmp_path / "s.yaml"
    path.write_text("dataset: digits\nregularizers: [none]\nsteps: 1\n"
                    "settings: [{name: x, lr: 1e-4, beta1: 0.5, beta2: 0.9, n_dis: 1}]\n")
    assert main(["plan", str(path)]) == 0 and "0.0001" in capsys.readouterr().out
    path.write_text(path.read_text() + "width: 1.0e9\n")
    assert main(["plan", str(path)]) == 2
    assert f"{path}: width: must be > 0 and at most 16" in capsys.readouterr().err
