"""Fused groups: k runs trained as one batched model are the same experiments as k solo runs.

The equivalence runs in float64. In float32 the grouped convolutions sum in another order than the solo
ones, and Adam's first updates amplify that rounding wherever a gradient is near its eps (1e-8): G's weights
then differ by ~1e-4 relative after one update, as they would between two thread counts. In float64 the
same runs agree to ~1e-10 (1e-6 is asserted: bcr casts D's outputs to float32), which leaves room only
for rounding, not for a wrong batch, latent, draw or gradient. Batch norm in D is the exception that proves the rule: its training amplifies a 1e-14
perturbation of D's init to 2% of G's weights within 12 updates (solo or fused alike), so it is compared
after 4.
"""
import dataclasses

import pytest
import torch

import benchmark.steps as steps_module
import benchmark.train as train_module
from benchmark.data import load_images
from benchmark.member_adam import MemberAdam
from benchmark.member_rng import UnsplittableDraw
from benchmark.regularizers import BUILTINS, REGULARIZERS, Regularizer
from benchmark.run import execute_group
from benchmark.grouping import groups, solo_reason
from benchmark.suite import expand, parse_suite, run_spec
from benchmark.train import train, train_group

EXAMPLES = ("r1", "sn_gp", "diffaugment", "bcr", "lecam", "gradient_norm")
# members differ in seed and in the optimizer settings a group may mix
MEMBERS = [dict(seed=0, lr=1e-3, beta1=0.5, beta2=0.9), dict(seed=1, lr=5e-4, beta1=0.0, beta2=0.9),
           dict(seed=7, lr=2e-4, beta1=0.5, beta2=0.999)]


def specs_for(regularizer, *, steps=20, members=MEMBERS, **overrides):
    # D at n_dis 2: several D steps per G step, at less than half of n_dis 5's cost
    base = run_spec(regularizer, {"name": "D2", "base": "D", "n_dis": 2},
                    **{"dataset": "digits", "image_size": 8, "width": 0.125, "steps": steps, "batch_size": 8,
                       "log_every": 5, "track_sn_every": 10, "d_passes": "joint", **overrides})
    return [dataclasses.replace(base, **m) for m in members]


@pytest.fixture(scope="module")
def real():
    return load_images("digits", split="train", size=8)


@pytest.fixture
def float64(monkeypatch):
    monkeypatch.setattr(train_module, "to_unit_range", lambda b: b.double().div_(127.5).sub_(1.0))
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def flat(module):
    return torch.cat([t.detach().flatten().double() for t in module.state_dict().values() if t.is_floating_point()])


def relative(a, b):
    return ((a - b).norm() / a.norm()).item()


@pytest.mark.parametrize("name", BUILTINS + EXAMPLES)
def test_member_s_is_the_solo_run_of_seed_s(name, real, float64):
    steps = 4 if name == "batch_norm" else 20
    specs = specs_for(name, steps=steps)
    solo = [train(s, real, progress=False) for s in specs]
    fused = train_group(specs, real, progress=False)
    for s, a, b in zip(specs, solo, fused):
        assert b.status == a.status == "ok" and b.steps_done == steps and b.group_size == 3
        assert relative(flat(a.generator), flat(b.generator)) < 1e-6, (name, s.seed)
        assert relative(flat(a.discriminator), flat(b.discriminator)) < 1e-6, (name, s.seed)
        assert b.history["g_loss"] == pytest.approx(a.history["g_loss"], rel=1e-6)
        if "penalty" not in REGULARIZERS.get(name).batched:  # a batched penalty logs the group's mean
            assert b.history["d_loss"] == pytest.approx(a.history["d_loss"], rel=1e-6)
        # probes.spectral_norms reads in float32
        assert sum(b.history["sn"], []) == pytest.approx(sum(a.history["sn"], []), rel=1e-6)
        assert b.group_sec_per_100_updates == pytest.approx(3 * b.sec_per_100_updates)


def test_the_built_ins_declare_what_they_batch():
    # the hooks that draw random numbers per sample or act elementwise are batched; weight penalties and
    # state are per member
    batched = {name: REGULARIZERS.get(name).batched for name in BUILTINS + EXAMPLES}
    assert batched["wgan_gp"] == {"penalty"} and batched["weight_clipping"] == {"after_d_step"}
    assert batched["orthonormal"] == set() and batched["lecam"] == set()
    assert batched["diffaugment"] == {"augment"} and batched["gradient_norm"] == {"discriminate"}


def test_member_adam_is_torch_adam_per_member():
    torch.manual_seed(0)
    k, shapes = 3, [(4, 5), (7,), (2, 3, 3)]
    lrs, b1s, b2s = [1e-3, 2e-4, 5e-2], [0.5, 0.0, 0.9], [0.9, 0.999, 0.99]
    stacked = [torch.randn(k, *s, requires_grad=True) for s in shapes]
    solo = [[p[i].detach().clone().requires_grad_(True) for p in stacked] for i in range(k)]
    ours = MemberAdam(stacked, lr=lrs, beta1=b1s, beta2=b2s)
    theirs = [torch.optim.Adam(solo[i], lr=lrs[i], betas=(b1s[i], b2s[i])) for i in range(k)]
    steps = 50
    for step in range(1, steps + 1):
        factor = 1.0 - (step - 1) / steps  # the linear decay, as Steps.set_lr sets it
        ours.scale_lr(factor)
        for i, opt in enumerate(theirs):
            for group in opt.param_groups:
                group["lr"] = lrs[i] * factor
        grads = [torch.randn(k, *s) * 10 ** torch.randint(-6, 1, ()).item() for s in shapes]
        for p, g in zip(stacked, grads):
            p.grad = g.clone()
        for i in range(k):
            for p, g in zip(solo[i], grads):
                p.grad = g[i].clone()
        ours.step()
        for opt in theirs:
            opt.step()
    for j in range(len(shapes)):
        for i in range(k):
            assert torch.allclose(stacked[j][i], solo[i][j], rtol=1e-6, atol=1e-7), (i, j)


def test_a_nan_member_diverges_alone(real, float64, monkeypatch):
    specs = specs_for("spectral_norm", steps=20)
    solo = [train(s, real, progress=False) for s in specs]
    original, calls = steps_module.Steps.d_step, [0]

    def step(self, x):
        calls[0] += 1
        if calls[0] == 13:  # member 1's D turns NaN in update 7 (D's 13th step at n_dis 2)
            with torch.no_grad():
                for p in self.members.d.parameters():
                    p[1].fill_(float("nan"))
        return original(self, x)

    monkeypatch.setattr(steps_module.Steps, "d_step", step)
    fused = train_group(specs, real, progress=False)
    assert [o.status for o in fused] == ["ok", "diverged", "ok"]
    assert fused[1].steps_done == 10 and "by update 10" in fused[1].error  # the first log after the NaN
    for i in (0, 2):  # nothing of it reached the others: their weights are their solo runs'
        assert relative(flat(solo[i].generator), flat(fused[i].generator)) < 1e-8
        assert fused[i].steps_done == 20 and len(fused[i].history["step"]) == 4
    assert fused[1].history["step"] == [5, 10]


class Raises(Regularizer):
    name = "raises"

    def penalty(self, *, discriminator, real, fake):
        raise RuntimeError("this penalty is broken")


class DrawsOnePerBatch(Regularizer):
    name = "draws_one"
    batched = frozenset({"penalty"})

    def penalty(self, *, discriminator, real, fake):
        return torch.rand(()) * 0  # one number per batch: no member's draw


@pytest.fixture
def registered():
    added = []

    def register(cls):
        REGULARIZERS.register(cls.name)(cls)
        added.append(cls.name)

    yield register
    for name in added:
        REGULARIZERS.remove(name)


def test_a_hook_that_raises_fails_every_member(real, registered):
    from benchmark.metrics import Scorer

    registered(Raises)
    specs = specs_for("raises", steps=3, evaluation={"is_samples": 50, "is_splits": 2, "fid_real": 100,
                                                      "fid_fake": 50})
    scorer = Scorer(dataset="digits", image_size=8, evaluation=specs[0].evaluation)
    out = execute_group(specs, real=real, scorer=scorer, progress=False)
    assert [r["status"] for r, _ in out] == ["failed"] * 3
    assert all("this penalty is broken" in r["error"] and r["fused"]["size"] == 3 for r, _ in out)
    assert [r["run_id"] for r, _ in out] == out[0][0]["fused"]["members"]


def test_a_batched_hook_must_draw_per_sample(real, registered):
    registered(DrawsOnePerBatch)
    with pytest.raises(UnsplittableDraw, match="batched penalty hook drew rand with a leading size of"):
        train_group(specs_for("draws_one", steps=2), real, progress=False)


def test_groups_fuse_seeds_and_optimizer_settings_only():
    raw = {"dataset": "digits", "image_size": 8, "width": 0.125, "steps": 5,
           "regularizers": ["none", {"name": "wgan_gp", "label": "gp1", "params": {"gp_lambda": 1.0}}, "wgan_gp"],
           "settings": ["A", "B", "D"], "seeds": list(range(12))}
    specs = expand(parse_suite(raw, path="t", default_name="t"))
    grouped = groups(specs, 10)
    assert sum(map(len, grouped)) == len(specs) and {s.run_id for g in grouped for s in g} == {s.run_id for s in specs}
    for group in grouped:  # one regularizer (and its params), one n_dis and steps per group
        assert len({(s.label, s.params, s.n_dis, s.steps) for s in group}) == 1
    # A and D (both n_dis 5) differ in lr and betas only: their 24 runs fuse, as 3 groups of 8; B (n_dis 1)
    # is apart, 12 runs as 2 groups of 6
    sizes = sorted(len(g) for g in grouped if g[0].label == "none")
    assert sizes == [6, 6, 8, 8, 8]
    assert {s.setting for g in grouped if len(g) == 8 for s in g} == {"A", "D"}
    assert all(len(g) == 1 for g in groups(specs, 1))


def test_what_trains_alone():
    base = specs_for("none", steps=2)[0]
    assert solo_reason(base) is None
    assert "compile" in solo_reason(dataclasses.replace(base, compile=True))
    assert groups([dataclasses.replace(base, seed=s, compile=True) for s in range(3)], 10) == \
        [[dataclasses.replace(base, seed=s, compile=True)] for s in range(3)]


def test_a_fused_group_resumes_exactly(real, tmp_path):
    specs = specs_for("lecam", steps=12, checkpoint_every=4)
    ckpt = tmp_path / "group.pt"
    whole = train_group(specs, real, progress=False)
    asked = [0]

    def stop_after_five():
        asked[0] += 1
        return asked[0] > 5  # before update 6: at a log step, so no loss window is cut

    with pytest.raises(train_module.Stopped):
        train_group(specs, real, progress=False, checkpoint=ckpt, should_stop=stop_after_five)
    assert ckpt.exists()
    resumed = train_group(specs, real, progress=False, checkpoint=ckpt)
    for a, b in zip(whole, resumed):
        assert b.resumed_from == 5
        assert torch.equal(flat(a.generator), flat(b.generator))
        assert a.history["d_loss"] == b.history["d_loss"]
        assert b.regularizer.state_dict()["updates"] == a.regularizer.state_dict()["updates"]


def _as_written_before(state: dict) -> dict:
    """A checkpoint of today's format in the layout regbench wrote before one engine: a solo run's, or a
    fused group's."""
    common = {k: state[k] for k in ("step", "train_seconds", "config_hash")}
    m = state["members"]
    if state["kind"] == "plain":
        return {**{k: m[k] for k in ("g", "d", "opt_g", "opt_d", "rng", "cuda_rng")}, "regularizer": m["regularizers"][0],
                "data_rng": state["data_rng"][0], "history": state["history"][0], **common}
    return {"fused": m, "data_rng": state["data_rng"], "history": state["history"], "members": state["ended"], **common}


@pytest.mark.parametrize("k", [1, 3])
def test_checkpoints_in_the_formats_written_before_resume_exactly(real, tmp_path, k):
    specs = specs_for("lecam", steps=12, checkpoint_every=4)[:k]
    ckpt = tmp_path / "old.pt"
    whole = train_group(specs, real, progress=False)
    asked = [0]
    with pytest.raises(train_module.Stopped):
        train_group(specs, real, progress=False, checkpoint=ckpt,
                    should_stop=lambda: asked.__setitem__(0, asked[0] + 1) or asked[0] > 5)
    state = torch.load(ckpt, weights_only=False)
    assert state["format"] == 2 and state["kind"] == ("plain" if k == 1 else "fused")
    torch.save(_as_written_before(state), ckpt)
    resumed = train_group(specs, real, progress=False, checkpoint=ckpt)
    for a, b in zip(whole, resumed):
        assert b.resumed_from == 5 and torch.equal(flat(a.generator), flat(b.generator))
        assert b.regularizer.state_dict()["updates"] == a.regularizer.state_dict()["updates"]


def test_a_fused_checkpoint_is_not_resumed_as_a_solo_run(real, tmp_path, capsys):
    (spec,) = specs_for("none", steps=8, checkpoint_every=4)[:1]
    ckpt = tmp_path / "x.pt"
    asked = [0]
    with pytest.raises(train_module.Stopped):
        train_group([spec], real, progress=False, checkpoint=ckpt, fused=True,
                    should_stop=lambda: asked.__setitem__(0, asked[0] + 1) or asked[0] > 5)
    state = torch.load(ckpt, weights_only=False)
    state["config_hash"] = spec.config_hash  # misplaced: the solo run's name on a fused group's state
    torch.save(state, ckpt)
    outcome = train(spec, real, progress=False, checkpoint=ckpt)
    assert outcome.resumed_from is None and "holds a fused group, this one trains plain" in capsys.readouterr().err


def test_the_report_times_like_with_like():
    from benchmark.report.tables import ALONE, runs_frame, timing_basis

    def rec(reg, seed, sec, group=None, size=None):
        r = {"regularizer": reg, "setting": "D", "seed": seed, "sec_per_100_updates": sec, "run_id": f"{reg}-{seed}",
             "status": "ok"}
        if group:
            r["fused"] = {"group": group, "size": size, "members": [], "group_sec_per_100_updates": sec * size}
        return r

    fused = [rec(reg, s, t, f"{reg}-g", 3) for reg, t in (("none", 1.0), ("spectral_norm", 1.2)) for s in range(3)]
    solo = [rec("none", 9, 3.0), rec("spectral_norm", 9, 3.5)]
    timed, basis, _, alone = timing_basis(runs_frame(fused + solo))
    # the fused groups are the majority (6 runs against 2): one timing per group, the solo runs left out, and said
    assert list(timed["group"]) == ["none-g", "spectral_norm-g"]
    assert not alone and basis.startswith("fused groups of 3") and "2 runs timed otherwise (alone, D passes not recorded: 2) are left out" in basis
    timed, basis, label, alone = timing_basis(runs_frame(solo))
    assert alone and basis == label == ALONE + ", D passes not recorded" and len(timed) == 2
    # two passes of D cost more than one: joint and separate runs are not timed together either
    mixed = [{**r, "d_passes": "separate"} for r in solo] + [{**r, "d_passes": "joint", "seed": 8, "run_id": r["run_id"]
                                                              + "j"} for r in solo[:1]]
    timed, basis, label, _ = timing_basis(runs_frame(mixed))
    assert set(timed["d_passes"]) == {"separate"} and len(timed) == 2
    assert label == ALONE + ", D passes separate" and basis.startswith(label) and "alone, D passes joint: 1" in basis


def test_a_fused_rerun_gives_its_own_numbers_bit_for_bit(real):
    specs = specs_for("wgan_gp", steps=6)  # float32, as sweeps run: batched penalty, split draws
    first, second = train_group(specs, real, progress=False), train_group(specs, real, progress=False)
    for a, b in zip(first, second):
        assert torch.equal(flat(a.generator), flat(b.generator)) and torch.equal(flat(a.discriminator),
                                                                                 flat(b.discriminator))
        assert a.history["d_loss"] == b.history["d_loss"] and a.history["g_loss"] == b.history["g_loss"]
