"""Grids and random search in suites: expansion, stable names and ids, prefix-stable random draws,
regularizer hyperparameter sweeps, and bad search spaces refused before anything runs."""
import numpy as np
import pytest

from benchmark.cli import main
from benchmark.search import grid_points, random_points
from benchmark.suite import expand, parse_suite

GRID = {"grid": {"lr": [1.0e-4, 2.0e-4, 1.0e-3], "beta1": [0.0, 0.5, 0.9], "beta2": [0.9, 0.999], "n_dis": [1, 5]}}


def random_space(n, **extra):
    return {"random": {"n": n, "seed": 0, "lr": {"log_uniform": [1.0e-5, 1.0e-2]}, "beta1": {"choice": [0.0, 0.5, 0.9]},
                       "beta2": {"uniform": [0.9, 0.999]}, "n_dis": {"choice": [1, 2, 5]}, **extra}}


def suite(settings, regularizers=("none",), **extra):
    raw = {"dataset": "digits", "regularizers": list(regularizers), "settings": settings, "steps": 10, **extra}
    return parse_suite(raw, path="s.yaml", default_name="s")


def test_a_grid_is_the_cross_product_with_readable_names_mixed_with_named_settings():
    settings = suite(["D", GRID]).settings
    assert len(settings) == 1 + 36 and settings[0].name == "D"
    combos = {(s.lr, s.beta1, s.beta2, s.n_dis) for s in settings[1:]}
    assert len(combos) == 36 and (2.0e-4, 0.5, 0.999, 5) in combos
    named = {s.name: s for s in settings}
    assert named["lr=0.0002,b1=0.5,b2=0.999,nd=5"].lr == 2.0e-4
    again = suite(["D", GRID]).settings
    assert [s.name for s in again] == [s.name for s in settings]  # the same names every time


def test_a_grid_takes_a_base_for_the_values_it_does_not_sweep():
    settings = suite([{"grid": {"n_dis": [1, 2, 5]}, "base": "D", "steps": 50}]).settings
    assert [(s.lr, s.beta1, s.beta2, s.n_dis, s.steps) for s in settings] == [
        (1e-3, 0.5, 0.9, n, 50) for n in (1, 2, 5)]


def test_random_search_is_seeded_and_raising_n_keeps_the_first_runs():
    seven = expand(suite([random_space(7)], seeds=[0, 1]))
    nine = expand(suite([random_space(9)], seeds=[0, 1]))
    assert [r.run_id for r in nine[:14]] == [r.run_id for r in seven] and len(nine) == 18
    settings = suite([random_space(20)]).settings
    assert all(1e-5 <= s.lr <= 1e-2 and s.beta1 in (0.0, 0.5, 0.9) and 0.9 <= s.beta2 <= 0.999
               and s.n_dis in (1, 2, 5) for s in settings)
    assert len({s.lr for s in settings}) == 20
    other_seed = suite([{"random": {**random_space(7)["random"], "seed": 1}}]).settings
    assert [s.lr for s in other_seed] != [s.lr for s in suite([random_space(7)]).settings]


def test_random_draws_are_numpys_pcg64_in_sorted_key_order():
    # the same numbers on every machine: pinned to numpy's Generator, not to this run
    points = random_points({"n": 2, "seed": 0, "b": {"uniform": [0.0, 1.0]}, "a": {"log_uniform": [1.0, 100.0]}},
                           "x", lambda f, m: ValueError(f"{f}: {m}"), allowed=("a", "b"))
    rng = np.random.default_rng(0)
    want = []
    for _ in range(2):
        a = float(np.exp(rng.uniform(0.0, np.log(100.0))))
        want.append({"a": a, "b": float(rng.uniform(0.0, 1.0))})
    assert points == want


def test_log_uniform_spreads_over_decades():
    points = random_points({"n": 2000, "seed": 3, "lr": {"log_uniform": [1e-5, 1e-1]}}, "x",
                           lambda f, m: ValueError(m), allowed=("lr",))
    decades = np.histogram(np.log10([p["lr"] for p in points]), bins=4, range=(-5, -1))[0]
    assert decades.min() > 400  # ~500 per decade; a plain uniform would put ~90% in the top one


def test_a_regularizers_own_hyperparameters_make_labelled_variants():
    regs = suite(["D"], regularizers=[{"name": "wgan_gp", "grid": {"gp_lambda": [1.0, 10.0]}},
                                      {"name": "orthonormal", "random": {"n": 3, "seed": 0,
                                                                         "coef": {"log_uniform": [1e-5, 1e-3]}}}]).regularizers
    assert [r.label for r in regs[:2]] == ["wgan_gp[gp_lambda=1]", "wgan_gp[gp_lambda=10]"]
    assert [dict(r.params)["gp_lambda"] for r in regs[:2]] == [1.0, 10.0]
    assert all(r.label.startswith("orthonormal[r") and 1e-5 <= dict(r.params)["coef"] <= 1e-3 for r in regs[2:])
    runs = expand(suite(["D", "E"], regularizers=[{"name": "wgan_gp", "grid": {"gp_lambda": [1.0, 10.0]}}]))
    assert len({r.run_id for r in runs}) == 4


BAD = [  # (settings, regularizers, field, words)
    ([{"grid": {"lr": [], "beta1": [0.5], "beta2": [0.9], "n_dis": [1]}}], None, "settings[0].grid.lr", "empty"),
    ([{"random": {"n": 3, "seed": 0, "lr": {"uniform": [0.01, 0.001]}}, "base": "D"}], None,
     "settings[0].random.lr.uniform", "low must be below high"),
    ([{"random": {"n": 3, "seed": 0, "lr": {"log_uniform": [0.0, 0.01]}}, "base": "D"}], None,
     "settings[0].random.lr.log_uniform", "bounds > 0"),
    ([{"random": {"n": 3, "seed": 0, "lr": {"normal": [0.0, 0.01]}}, "base": "D"}], None,
     "settings[0].random.lr", "unknown distribution normal"),
    ([{"grid": {"lr": [1e-4], "momentum": [0.9]}, "base": "D"}], None, "settings[0].grid.momentum", "unknown key"),
    ([{"random": {"n": 0, "seed": 0, "lr": {"uniform": [1e-4, 1e-3]}}, "base": "D"}], None, "settings[0].random.n",
     ">= 1"),
    ([{"grid": {"lr": [float(x) for x in np.linspace(1e-4, 1e-3, 50)], "beta1": [0.0, 0.5], "beta2": [0.9, 0.99],
                "n_dis": list(range(1, 11))}}], ["none"] * 1 + [{"name": "none", "label": f"n{i}"} for i in range(99)],
     "settings", "more than 100,000"),
    ([{"grid": {"lr": [1e-4, 2e-4]}}], None, "settings[0].grid.beta1", "give a base setting"),
    (["D"], [{"name": "wgan_gp", "grid": {"gp_lambda": ["high"]}}], "regularizers[0].grid", "must be float"),
    (["D"], [{"name": "wgan_gp", "grid": {"lambda": [1.0]}}], "regularizers[0].grid.lambda", "unknown key"),
    ([{"grid": {"lr": [1e-4, 2.0]}, "base": "D"}], None, "settings[0].grid (lr=2,b1=0.5,b2=0.9,nd=5).lr",
     "at most 1, got 2.0"),
]


@pytest.mark.parametrize("settings,regularizers,field,words", BAD)
def test_bad_search_spaces_exit_2_naming_the_field_and_write_nothing(write_suite, tmp_path, capsys, settings,
                                                                      regularizers, field, words):
    path = write_suite({"settings": settings, **({"regularizers": regularizers} if regularizers else {})})
    for command in (["plan", str(path)], ["run", str(path), "--results", str(tmp_path / "results"), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{path}: {field}" in err and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "results").exists()


def test_plan_counts_the_expansion_per_regularizer(write_suite, capsys):
    path = write_suite({"settings": ["D", GRID], "regularizers": ["none", {"name": "wgan_gp",
                                                                           "grid": {"gp_lambda": [1.0, 10.0]}}]})
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 regularizers x 37 settings x 1 seeds" in out
    assert "runs per regularizer: none 37, wgan_gp[gp_lambda=1] 37, wgan_gp[gp_lambda=10] 37" in out


def test_grid_points_of_a_scalar_is_one_point():
    assert grid_points({"a": 1, "b": [2, 3]}, "x", lambda f, m: ValueError(m), allowed=("a", "b")) == [
        {"a": 1, "b": 2}, {"a": 1, "b": 3}]
