"""What a run records beyond its scores: spectral norms per layer, history, checkpoints and resume, overrides."""
import dataclasses
import json
import math

import pytest
import torch

from benchmark.cli import main
from benchmark.data import load_images
from benchmark.regularizers import REGULARIZERS, Regularizer, register_regularizer, weight_layers
from benchmark.suite import expand, load_suite, run_spec
from benchmark.interrupts import CtrlC
from benchmark.train import train


def spec_for(regularizer, setting="D", **overrides):
    return run_spec(regularizer, setting, **{"dataset": "digits", "image_size": 8, "width": 0.125, "steps": 20,
                                             "batch_size": 8, "log_every": 5, "track_sn_every": 10, **overrides})


@pytest.fixture(scope="module")
def real():
    return load_images("digits", split="train", size=8)


def test_spectral_norm_tracking(real):
    sn = train(spec_for("spectral_norm", steps=100, track_sn_every=50), real, progress=False)
    hist = sn.history
    assert hist["sn_step"] == [0, 50, 100]
    assert len(hist["sn_layers"]) == 8 and all(len(row) == 8 for row in hist["sn"])
    # one power iteration per forward tracks the moving weights closely, not exactly (as in the paper): the
    # estimate u^T W v never exceeds sigma, so a normalized layer's norm is >= 1, and after 100 updates most
    # layers are within 3% (with N(0, 0.02) init a layer whose top singular values are close lags behind)
    final = sorted(hist["sn"][-1])
    assert final[0] >= 1 - 1e-4 and final[-1] < 1.25 and final[len(final) // 2] == pytest.approx(1.0, abs=0.03)
    assert max(hist["sn"][0]) > 1.2  # at step 0 u, v are random: far from converged

    plain = train(spec_for("none"), real, progress=False)
    raw = [torch.linalg.svdvals(layer.weight.detach().flatten(1))[0].item()
           for layer in weight_layers(plain.discriminator)]
    assert plain.history["sn"][-1] == pytest.approx(raw, rel=1e-5)


def test_history_records_scores_with_their_sample_counts(write_suite, tmp_path):
    suite = write_suite({"regularizers": ["none"], "settings": ["C"], "steps": 6,
                         "evaluation": {"is_samples": 100, "is_splits": 2, "fid_real": 200, "fid_fake": 100,
                                        "history_every": 3, "history_samples": 50}})
    assert main(["run", str(suite), "--results", str(tmp_path), "--quiet"]) == 0
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "tiny").glob("*.json")]
    hist = result["history"]
    assert hist["eval_step"] == [3, 6]
    assert all(e["samples"] == 50 and e["fid"] > 0 and e["inception_score_mean"] >= 1 for e in hist["eval"])


@pytest.fixture
def flaky():
    """A regularizer that raises on its 12th D step while ``flaky.armed`` is true."""

    @register_regularizer("test_flaky")
    class Flaky(Regularizer):
        armed, calls = True, 0

        def after_d_step(self, discriminator):
            type(self).calls += 1
            if type(self).armed and type(self).calls == 12:
                raise RuntimeError("interrupted")

    yield Flaky
    REGULARIZERS._entries.pop("test_flaky"), REGULARIZERS._origins.pop("test_flaky")


def test_resume_from_checkpoint_gives_the_uninterrupted_result(flaky, real, tmp_path):
    spec = spec_for("test_flaky", setting="C", checkpoint_every=5)  # n_dis 1: the 12th D step is update 12
    ckpt = tmp_path / "run.pt"
    with pytest.raises(RuntimeError, match="interrupted"):
        train(spec, real, progress=False, checkpoint=ckpt)
    assert torch.load(ckpt, weights_only=False)["step"] == 10
    flaky.armed = False
    resumed = train(spec, real, progress=False, checkpoint=ckpt)
    assert resumed.resumed_from == 10 and resumed.steps_done == spec.steps and resumed.status == "ok"
    assert resumed.history["step"] == [5, 10, 15, 20]
    fresh = train(spec, real, progress=False)
    # same RNG streams: the resumed run ends where the uninterrupted one does
    for a, b in zip(resumed.generator.state_dict().values(), fresh.generator.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert resumed.history["d_loss"][-1] == pytest.approx(fresh.history["d_loss"][-1], rel=1e-3)


def test_failed_run_is_resumed_with_retry_failed(flaky, write_suite, tmp_path):
    suite = write_suite({"regularizers": ["test_flaky"], "settings": ["C"], "steps": 20, "checkpoint_every": 5})
    args = ["run", str(suite), "--results", str(tmp_path), "--quiet"]
    assert main(args) == 1  # a failed run: non-zero, the sweep itself went on
    (path,) = (tmp_path / "tiny").glob("*.json")
    assert json.loads(path.read_text())["status"] == "failed"
    assert main(args) == 0  # without --retry-failed the failed result stands
    assert json.loads(path.read_text())["status"] == "failed"
    flaky.armed = False
    assert main(args + ["--retry-failed"]) == 0
    result = json.loads(path.read_text())
    assert result["status"] == "ok" and result["resumed_from_step"] == 10 and result["steps_done"] == 20
    assert not list((tmp_path / "tiny" / "checkpoints").glob("*"))


def test_retry_failed_resumes_a_partly_failed_group_as_that_group(write_suite, tmp_path, monkeypatch):
    import benchmark.run as run_module

    suite = write_suite({"regularizers": ["none"], "settings": ["D"], "seeds": [0, 1, 2], "fuse": 3, "steps": 12,
                         "checkpoint_every": 5})
    scoring, armed = run_module.generate, [True]

    def generate(generator, n, *, seed, **kwargs):  # member 1's scoring breaks; its training was fine
        if armed[0] and seed == 1:
            raise RuntimeError("scoring broke")
        return scoring(generator, n, seed=seed, **kwargs)

    monkeypatch.setattr(run_module, "generate", generate)
    args = ["run", str(suite), "--results", str(tmp_path), "--quiet"]
    folder = tmp_path / "tiny"

    def results():
        return {json.loads(p.read_text())["seed"]: p for p in folder.glob("*.json")}

    assert main(args) == 1
    first = {seed: json.loads(p.read_text()) for seed, p in results().items()}
    assert [first[s]["status"] for s in range(3)] == ["ok", "failed", "ok"]
    group = first[0]["fused"]["group"]
    (kept,) = (folder / "checkpoints").glob("*.pt")  # the group's, kept for --retry-failed
    assert kept.name == f"group-{group}.pt"
    assert main(args) == 0  # no retry: the failed result stands, and the plan still knows the checkpoint's group
    plan = json.loads((folder / "plan" / "plan.json").read_text())
    assert {"id": group, "members": [first[s]["run_id"] for s in range(3)], "checkpoint": kept.name} in plan["groups"]
    untouched = {s: results()[s].read_bytes() for s in (0, 2)}
    armed[0] = False
    assert main(args + ["--retry-failed"]) == 0
    retried = json.loads(results()[1].read_text())
    assert retried["status"] == "ok" and retried["fused"]["group"] == group and retried["resumed_from_step"] == 10
    assert {s: results()[s].read_bytes() for s in (0, 2)} == untouched  # the others keep their results
    assert not list((folder / "checkpoints").glob("*"))
    assert main(["run", str(suite), "--results", str(tmp_path / "fresh"), "--quiet"]) == 0
    fresh = {json.loads(p.read_text())["seed"]: json.loads(p.read_text()) for p in (tmp_path / "fresh" / "tiny").glob("*.json")}
    assert retried["fid"] == fresh[1]["fid"]  # resumed from the group's checkpoint: the uninterrupted result


def test_max_steps_and_samples_overrides_are_recorded(write_suite, tmp_path):
    suite = write_suite({"steps": 1000, "regularizers": ["none"], "settings": ["C"]})
    assert main(["run", str(suite), "--results", str(tmp_path), "--quiet", "--max-steps", "3",
                 "--samples", "40"]) == 0
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "tiny").glob("*.json")]
    assert result["steps"] == 3 and result["steps_done"] == 3
    assert result["overrides"] == {"max_steps": 3, "samples": 40}
    assert result["protocol"]["is_samples"] == 40 and result["protocol"]["fid_real"] == 40
    full = expand(load_suite(suite))[0]
    assert result["run_id"] != full.run_id  # a smoke test never passes for the full run


def test_the_same_run_twice_gives_identical_numbers(real):
    spec = spec_for("spectral_norm", steps=10)
    a, b = train(spec, real, progress=False), train(spec, real, progress=False)
    assert a.history["d_loss"] == b.history["d_loss"] and a.history["sn"] == b.history["sn"]
    for x, y in zip(a.generator.state_dict().values(), b.generator.state_dict().values()):
        assert torch.equal(x, y)


def test_ctrl_c_stops_at_an_update_boundary_with_a_checkpoint(real, tmp_path):
    import os
    import signal

    @register_regularizer("test_ctrl_c")
    class Interrupting(Regularizer):
        calls = 0

        def after_d_step(self, discriminator):
            type(self).calls += 1
            if type(self).calls == 7:
                os.kill(os.getpid(), signal.SIGINT)

    # whatever the handler was (a job started in the background of a shell starts with SIGINT ignored)
    before = signal.getsignal(signal.SIGINT)
    try:
        spec = spec_for("test_ctrl_c", setting="C", checkpoint_every=0)
        ckpt = tmp_path / "run.pt"
        with pytest.raises(KeyboardInterrupt), CtrlC() as ctrl_c:  # as a launcher runs a group (worker.run_group)
            train(spec, real, progress=False, checkpoint=ckpt, should_stop=ctrl_c.should_stop)
        assert torch.load(ckpt, weights_only=False)["step"] == 7  # the update it was in, finished
        assert signal.getsignal(signal.SIGINT) is before  # handler restored
        Interrupting.calls = 100  # no more interrupts
        resumed = train(spec, real, progress=False, checkpoint=ckpt)
        fresh = train(spec, real, progress=False)
        assert resumed.resumed_from == 7 and resumed.steps_done == 20
        for a, b in zip(resumed.generator.state_dict().values(), fresh.generator.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    finally:
        REGULARIZERS._entries.pop("test_ctrl_c"), REGULARIZERS._origins.pop("test_ctrl_c")


def test_a_checkpoint_of_another_config_is_moved_aside_and_the_run_starts_afresh(real, tmp_path, capsys):
    ckpt = tmp_path / "run.pt"
    train(spec_for("none", setting="C", checkpoint_every=5), real, progress=False, checkpoint=ckpt)
    assert ckpt.exists()  # train leaves it; the launcher removes it once the result is written
    other = spec_for("none", setting="C", checkpoint_every=5, seed=1)
    outcome = train(other, real, progress=False, checkpoint=ckpt)
    assert outcome.resumed_from is None and outcome.steps_done == other.steps
    assert (tmp_path / "run.pt.damaged").exists() and "belongs to another config" in capsys.readouterr().err


def test_a_cut_checkpoint_is_moved_aside_named_and_the_run_starts_afresh(real, tmp_path, capsys):
    spec = spec_for("none", setting="C", checkpoint_every=5)
    ckpt = tmp_path / "run.pt"
    train(spec, real, progress=False, checkpoint=ckpt)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    outcome = train(spec, real, progress=False, checkpoint=ckpt)
    fresh = train(spec, real, progress=False)
    assert outcome.resumed_from is None and outcome.status == "ok"
    for a, b in zip(outcome.generator.state_dict().values(), fresh.generator.state_dict().values()):
        torch.testing.assert_close(a, b)  # the same run as one that never had a checkpoint
    err = capsys.readouterr().err
    assert f"checkpoint {ckpt} does not load" in err and "moved aside to run.pt.damaged" in err
    assert (tmp_path / "run.pt.damaged").read_bytes() == data[: len(data) // 2]  # kept, never deleted


def test_speed_switches_are_recorded_and_part_of_the_id_only_when_on(write_suite, tmp_path):
    plain = expand(load_suite(write_suite()))[0]
    on = expand(load_suite(write_suite({"bf16": True, "channels_last": True}, name="fast")))[0]
    assert "bf16" not in plain.config() and on.config()["bf16"] is True
    assert plain.run_id != on.run_id and plain.run_id.rsplit("-", 1)[1] == plain.config_hash
    real = load_images("digits", split="train", size=8)
    for name in REGULARIZERS.names():  # bf16 autocast and NHWC run on the CPU too (slowly)
        outcome = train(dataclasses.replace(on, regularizer=name, label=name), real, progress=False)
        assert outcome.status == "ok" and all(math.isfinite(v) for v in outcome.history["d_loss"]), name


def test_the_g_step_leaves_d_untouched_and_gives_the_plain_gradient():
    from benchmark.steps import solo_steps
    from benchmark.backends import build

    spec = spec_for("spectral_norm")
    g, d, reg = build(spec, channels=1, device=torch.device("cpu"))
    steps = solo_steps(spec, g, d, reg, torch.device("cpu"))

    # what a plain loop computes: G's gradient through a D that also gets (unused) gradients
    torch.manual_seed(1)
    d_state = {k: v.clone() for k, v in d.state_dict().items()}
    steps.members.loss.g(d(g(torch.randn(spec.batch_size, spec.z_dim)))).backward()
    want = [p.grad.clone() for p in g.parameters()]
    assert any(p.grad is not None for p in d.parameters())
    g.zero_grad(set_to_none=True), d.zero_grad(set_to_none=True), d.load_state_dict(d_state)

    torch.manual_seed(1)
    steps.members.opt_g.step = lambda: None  # keep G's gradients to compare
    steps.g_step(spec.batch_size)
    assert all(torch.equal(p.grad, w) for p, w in zip(g.parameters(), want))
    assert all(p.grad is None and p.requires_grad for p in d.parameters())


def test_a_result_calls_code_dirty_but_not_a_rewritten_report_or_suite(tmp_path):
    import subprocess

    from benchmark.provenance import git_state

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    (tmp_path / "benchmark").mkdir(), (tmp_path / "reports").mkdir(), (tmp_path / "suites").mkdir()
    (tmp_path / "benchmark" / "train.py").write_text("a")
    (tmp_path / "reports" / "report.md").write_text("a")
    (tmp_path / "suites" / "mine.yaml").write_text("a")
    git("init", "-q"), git("add", "."), git("commit", "-qm", "x")
    commit, dirty = git_state(tmp_path)
    assert len(commit) == 40 and not dirty
    (tmp_path / "reports" / "report.md").write_text("b")  # what make bench does to the committed report
    (tmp_path / "suites" / "mine.yaml").write_text("b")  # a suite is data: every result records its hash
    assert git_state(tmp_path) == (commit, False)
    (tmp_path / "benchmark" / "train.py").write_text("b")
    assert git_state(tmp_path) == (commit, True)
    assert git_state(tmp_path / "benchmark") == (None, False)  # not the top of a checkout: no claim
