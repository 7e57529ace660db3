"""The hooks the post-2018 regularizers need (augment D's input, wrap D's forward, D's outputs for a penalty,
state kept across steps) and the example plugins that use them (examples/plugins): each one's defining property."""
import copy
import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from benchmark.cli import main
from benchmark.data import load_images
from benchmark.plugin_check import check_plugin, passed
from benchmark.regularizers import REGULARIZERS, Regularizer, create_regularizer, register_regularizer
from benchmark.suite import run_spec
from benchmark.steps import solo_steps
from benchmark.backends import build
from benchmark.train import train

pytest.importorskip("regbench_examples", reason="the example plugins: `make install` installs them")

EXAMPLES = ("diffaugment", "bcr", "lecam", "gradient_norm")


def spec_for(regularizer, **overrides):
    return run_spec(regularizer, {"name": "t", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "n_dis": 2},
                    **{"dataset": "digits", "image_size": 8, "width": 0.125, "steps": 10, "batch_size": 8,
                       "log_every": 5, **overrides})


@pytest.fixture(scope="module")
def real():
    return load_images("digits", split="train", size=8)


@pytest.fixture
def temporary():
    """Register test regularizers; unregistered afterwards."""
    names = []

    def add(name, cls):
        names.append(name)
        return register_regularizer(name)(cls)

    yield add
    for name in names:
        REGULARIZERS._entries.pop(name), REGULARIZERS._origins.pop(name)


def steps_for(name, d_passes="separate", **params):
    spec = spec_for({"name": name, "params": params}, d_passes=d_passes)
    g, d, reg = build(spec, channels=1, device=torch.device("cpu"))
    return spec, solo_steps(spec, g, d, reg, torch.device("cpu")), d, reg


def record_inputs(d):
    seen = []
    d.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    return seen


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_passes_check_plugin(name):
    outcomes = check_plugin(name)
    assert passed(outcomes), [(o.check, o.results) for o in outcomes]


def test_hooks_a_regularizer_does_not_override_cost_nothing():
    _, steps, d, _ = steps_for("spectral_norm")
    assert steps.augment is None and steps.discriminate is d and steps.extras == ()
    _, steps, _, _ = steps_for("lecam")
    assert steps.extras == ("d_real", "d_fake") and steps.augment is None


@pytest.mark.parametrize("d_passes", ["separate", "joint"])
def test_diffaugment_d_never_sees_an_unaugmented_image(d_passes, temporary):
    made = []
    base = REGULARIZERS.get("diffaugment")

    class Recording(base):
        def augment(self, images):
            out = super().augment(images)
            made.append(out)
            return out

    temporary("test_recording_diffaugment", Recording)
    spec, steps, d, _ = steps_for("test_recording_diffaugment", d_passes)
    seen = record_inputs(d)
    x = torch.rand(8, 1, 8, 8) * 2 - 1
    steps.d_step(x)
    steps.g_step(8)
    assert len(made) == 3  # real and fake in D's step, fake in G's
    for batch in seen:  # every image D took in is an augmented one (joint: the two augmented batches, joined)
        assert any(torch.equal(batch, m) for m in made) or torch.equal(batch, torch.cat(made[:2]))
    assert not torch.equal(made[0], x)
    # the augmentation does what the paper's does: cutout zeroes a square of half the side, centred anywhere in
    # the image (so partly outside it at the borders)...
    zeroed = (REGULARIZERS.get("diffaugment")(policy="cutout").augment(torch.ones(256, 1, 8, 8)) == 0)
    fraction = zeroed.flatten(1).float().mean(1)
    assert (fraction > 0).all() and fraction.max().item() == 0.25
    # ...and G's gradient flows through it to G's weights
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in steps.members.g.parameters())


def test_an_unknown_diffaugment_policy_stops_the_suite(write_suite, capsys):
    suite = write_suite({"regularizers": [{"name": "diffaugment", "params": {"policy": "color,zoom"}}]})
    assert main(["plan", str(suite)]) == 2
    assert "diffaugment.policy 'color,zoom'" in capsys.readouterr().err


def test_a_penalty_gets_the_outputs_the_loss_used_without_another_forward(temporary):
    got = {}

    class Outputs(Regularizer):
        def penalty(self, *, discriminator, real, fake, d_real, d_fake):
            got.update(real=real, fake=fake, d_real=d_real, d_fake=d_fake)
            return d_real.mean() * 0

    temporary("test_outputs", Outputs)
    _, steps, d, _ = steps_for("test_outputs")
    before = copy.deepcopy(d)  # D as the step found it: the step then updates d
    seen = record_inputs(d)
    steps.d_step(torch.rand(8, 1, 8, 8) * 2 - 1)
    assert len(seen) == 2  # real and fake, once each: the penalty added no forward
    assert got["d_real"].requires_grad  # with its graph: a penalty on it trains D
    with torch.no_grad():
        torch.testing.assert_close(got["d_real"], before(got["real"]).float())
        torch.testing.assert_close(got["d_fake"], before(got["fake"]).float())


def test_bcr_costs_two_extra_forwards_and_vanishes_for_an_invariant_d():
    _, steps, d, reg = steps_for("bcr")
    seen = record_inputs(d)
    steps.d_step(torch.rand(8, 1, 8, 8) * 2 - 1)
    assert len(seen) == 4  # real, fake; then T(real), T(fake) for the penalty
    constant = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1))
    torch.nn.init.zeros_(constant[1].weight)  # ignores its input: invariant to any augmentation
    x = torch.rand(8, 1, 8, 8)
    out = constant(x).squeeze(1)
    assert reg.penalty(discriminator=lambda t: constant(t).squeeze(1), real=x, fake=x, d_real=out,
                       d_fake=out).item() == 0
    assert reg.penalty(discriminator=lambda t: t.flatten(1)[:, :3].sum(1), real=x, fake=x,
                       d_real=x.flatten(1)[:, :3].sum(1), d_fake=x.flatten(1)[:, :3].sum(1)).item() > 0


def test_gradient_norm_bounds_d_in_both_steps(real, temporary):
    calls = []
    base = REGULARIZERS.get("gradient_norm")

    class Counting(base):
        def discriminate(self, discriminator, images):
            out = super().discriminate(discriminator, images)
            calls.append(out.detach())
            return out

    temporary("test_counting_gn", Counting)
    spec = spec_for("test_counting_gn", steps=30, settings=[{"name": "t", "lr": 1e-3, "beta1": 0.5, "beta2": 0.9,
                                                               "n_dis": 1}])
    outcome = train(spec, real, progress=False)
    assert outcome.status == "ok"
    assert len(calls) == 30 * 3  # real and fake in each D step, fake in each G step
    assert all(c.abs().max().item() < 1 for c in calls)
    # D itself is not bounded: the normalization is what bounds it
    d = outcome.discriminator
    x = torch.randn(64, 1, 8, 8) * 50
    assert create_regularizer("gradient_norm").discriminate(d, x).abs().max().item() < 1


def test_lecam_averages_survive_a_checkpoint_round_trip(real, tmp_path):
    spec = spec_for({"name": "lecam", "params": {"ema_start": 0, "decay": 0.9}}, steps=20, checkpoint_every=10)
    ckpt = tmp_path / "run.pt"
    whole = train(spec, real, progress=False, checkpoint=ckpt)  # leaves its update-10 checkpoint
    saved = torch.load(ckpt, weights_only=False)["members"]["regularizers"][0]
    assert saved["updates"] == 10 * spec.n_dis and saved["ema_real"].item() != 0
    resumed = train(spec, real, progress=False, checkpoint=ckpt)
    assert resumed.resumed_from == 10
    assert resumed.regularizer.updates == whole.regularizer.updates == 20 * spec.n_dis
    torch.testing.assert_close(resumed.regularizer.ema_fake, whole.regularizer.ema_fake)
    for a, b in zip(resumed.generator.state_dict().values(), whole.generator.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_check_plugin_fails_state_kept_outside_state_dict_and_a_bad_augmentation(tmp_path):
    (tmp_path / "bad.py").write_text('''
import torch
from benchmark.regularizers import Regularizer, register_regularizer

@register_regularizer("forgetful")
class Forgetful(Regularizer):  # LeCam's averages as plain attributes: lost on resume
    def __init__(self, **params):
        super().__init__(**params)
        self.ema = 0.0

    def penalty(self, *, discriminator, real, fake, d_real, d_fake):
        self.ema = 0.9 * self.ema + 0.1 * d_real.detach().mean().item()
        return (d_real - self.ema).pow(2).mean()

@register_regularizer("cropping")
class Cropping(Regularizer):
    def augment(self, images):
        return images[:, :, 1:, 1:]

@register_regularizer("rounding")
class Rounding(Regularizer):
    def augment(self, images):
        return images.round()
''')
    cases = {"forgetful": "attribute 'ema' of the regularizer differs after resuming",
             "cropping": "augment turned a batch of shape (8, 3, 16, 16) into (8, 3, 15, 15)",
             "rounding": "augment is not differentiable"}
    for name, message in cases.items():
        out = subprocess.run([sys.executable, "-m", "benchmark", "check-plugin", name, "--plugin",
                              str(tmp_path / "bad.py")], capture_output=True, text=True, timeout=300)
        assert out.returncode == 1 and message in out.stdout, out.stdout + out.stderr


def test_a_stateful_plugin_killed_and_resumed_ends_where_an_uninterrupted_run_does(write_suite, tmp_path):
    # lecam from the example package (an installed third party), its averages on from the first update
    suite = write_suite({"regularizers": [{"name": "lecam", "params": {"ema_start": 0, "decay": 0.9}}],
                         "settings": ["C"], "steps": 400, "log_every": 10, "checkpoint_every": 10})
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "benchmark", "run", str(suite), "--results", str(killed),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoints = killed / "tiny" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not list(checkpoints.glob("*.pt")) and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # a few more checkpoints
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list((killed / "tiny").glob("*.json")), "the run finished before it could be killed"
    assert main(["run", str(suite), "--results", str(killed), "--quiet"]) == 0
    assert main(["run", str(suite), "--results", str(tmp_path / "whole"), "--quiet"]) == 0
    (resumed,) = [json.loads(p.read_text()) for p in (killed / "tiny").glob("*.json")]
    (whole,) = [json.loads(p.read_text()) for p in (tmp_path / "whole" / "tiny").glob("*.json")]
    assert resumed["status"] == whole["status"] == "ok" and resumed["resumed_from_step"] > 0
    assert resumed["fid"] == pytest.approx(whole["fid"], rel=1e-6)
    assert resumed["inception_score_mean"] == pytest.approx(whole["inception_score_mean"], rel=1e-6)
