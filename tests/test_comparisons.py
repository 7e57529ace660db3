"""Comparisons over seeds on hand-made results: intervals, probability of improvement, tied ranks, budget
curves against brute force, and every finding rule's verdicts."""
import math

import numpy as np
import pytest

from benchmark import paper
from benchmark.report.findings import check_findings
from benchmark.report.comparisons import budget_table, pairwise_table, scores_table, tied_ranks
from benchmark.report.stats import expected_best, expected_best_brute_force, mean_ci, probability_of_improvement
from benchmark.report.tables import runs_frame

SETTINGS = {name: paper.settings()[name] for name in "ABCDEF"}


def run(reg, setting, seed, fid, *, status="ok", sec=1.0, **setting_values):
    values = {**SETTINGS.get(setting, {}), **setting_values}
    return {"regularizer": reg, "setting": setting, "seed": seed, "status": status, "sec_per_100_updates": sec,
            "fid": fid if status == "ok" else None, "inception_score_mean": 5.0 if status == "ok" else None,
            "kid_mean": fid / 1000 if status == "ok" else None, "run_id": f"{reg}-{setting}-{seed}", **values}


def frame(spec: dict, seeds=(0, 1, 2), **kw):
    """spec: {(regularizer, setting): [fid per seed]}."""
    return runs_frame([run(reg, s, seed, fid, **kw) for (reg, s), fids in spec.items()
                       for seed, fid in zip(seeds, fids)])


def test_mean_ci_is_students_t():
    mean, low, high = mean_ci([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t_0.975 with 2 dof, std 1
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert all(math.isnan(v) for v in mean_ci([1.0])[1:]) and math.isnan(mean_ci([])[0])


def test_probability_of_improvement():
    win = probability_of_improvement([1, 2, 3], [4, 5, 6])
    assert (win["p_a_better"], win["ci_low"], win["ci_high"]) == (1.0, 1.0, 1.0)
    assert win["mw_p"] == pytest.approx(0.05)  # 1 / C(6, 3): the exact one-sided p of a clean sweep
    mixed = probability_of_improvement([1, 5, 3], [4, 2, 6])
    assert mixed["p_a_better"] == pytest.approx(6 / 9) and mixed["ci_low"] < 0.5 < mixed["ci_high"]
    diverged = probability_of_improvement([np.inf, np.inf], [900.0, 950.0])  # diverged loses to anything
    assert diverged["p_a_better"] == 0.0
    assert math.isnan(probability_of_improvement([1.0], [2.0])["ci_low"])  # one run a side: no interval


@pytest.mark.parametrize("values", [[5, 1, 7, 3, 9], [2, 2, 8], [1.5], [10, 3, 3, 40, 0.5, 7]])
def test_expected_best_equals_brute_force(values):
    for k in range(1, len(values) + 1):
        assert expected_best(values, k) == pytest.approx(expected_best_brute_force(values, k))


def test_budget_table_against_brute_force_per_seed():
    fids = {("sn", "A"): [30, 40, 35], ("sn", "B"): [60, 50, 55], ("sn", "C"): [20, 90, 45]}
    table = budget_table(frame(fids))
    for k in (1, 2, 3):
        per_seed = [expected_best_brute_force([fids[("sn", s)][seed] for s in "ABC"], k) for seed in range(3)]
        row = table[table["k"] == k].iloc[0]
        assert row["expected_best_fid"] == pytest.approx(np.mean(per_seed)) and row["seeds"] == 3
        assert row["ci_low"] <= row["expected_best_fid"] <= row["ci_high"]
    assert list(table["expected_best_fid"]) == sorted(table["expected_best_fid"], reverse=True)  # more tries help


def test_scores_pairwise_and_ranks():
    df = frame({("sn", "D"): [10, 11, 12], ("wgan", "D"): [50, 52, 51], ("ln", "D"): [49, 55, 53]})
    scores = scores_table(df).set_index("regularizer")
    assert scores.loc["sn", "fid_mean"] == 11 and scores.loc["sn", "fid_ci_low"] < 11 < scores.loc["sn", "fid_ci_high"]
    assert {"kid_ci_low", "is_ci_high"} <= set(scores.columns)
    pairs = pairwise_table(df).set_index(["a", "b"])
    assert pairs.loc[("sn", "wgan"), "p_a_better"] == 1.0 and pairs.loc[("wgan", "sn"), "p_a_better"] == 0.0
    assert len(pairs) == 6  # every ordered pair at the one setting
    assert tied_ranks(df) == {"sn": 1, "wgan": 2, "ln": 2}  # wgan and ln overlap: a tie, not ranks 2 and 3
    one_seed = frame({("sn", "D"): [10], ("wgan", "D"): [50]}, seeds=(0,))
    assert tied_ranks(one_seed) == {"sn": 1, "wgan": 1}  # one seed separates nothing


def verdict(df, finding_id):
    rows = check_findings(df).set_index("id")
    return rows.loc[finding_id, "verdict"]


HIGH = "DEF"


def test_beats_rule_reproduced_inconclusive_not_reproduced_not_applicable():
    wins = frame({**{("spectral_norm", s): [10, 11, 12] for s in HIGH}, **{("wgan_gp", s): [50, 60, 55] for s in HIGH}})
    assert verdict(wins, "sn_beats_wgan_gp_at_high_lr") == "reproduced"
    overlap = frame({**{("spectral_norm", s): [10, 30, 20] for s in HIGH},
                     **{("wgan_gp", s): [25, 15, 22] for s in HIGH}})
    assert verdict(overlap, "sn_beats_wgan_gp_at_high_lr") == "inconclusive"
    loses = frame({**{("spectral_norm", s): [90, 95, 99] for s in HIGH},
                   **{("wgan_gp", s): [10, 12, 11] for s in HIGH}})
    assert verdict(loses, "sn_beats_wgan_gp_at_high_lr") == "not reproduced"
    assert verdict(frame({("spectral_norm", "D"): [1, 2, 3]}), "sn_beats_wgan_gp_at_high_lr") == "not applicable"
    diverged = runs_frame([run("spectral_norm", "D", i, 20.0 + i) for i in range(3)]
                          + [run("wgan_gp", "D", i, None, status="diverged") for i in range(3)])
    assert verdict(diverged, "sn_beats_wgan_gp_at_high_lr") == "reproduced"  # a diverged run loses


def test_not_worse_than_best():
    df = frame({("spectral_norm", "C"): [20, 22, 21], ("wgan_gp", "C"): [19, 25, 23], ("none", "C"): [80, 85, 90]})
    assert verdict(df, "sn_never_significantly_worse") == "reproduced"  # wgan_gp's lower mean is within noise
    worse = frame({("spectral_norm", "C"): [60, 62, 61], ("wgan_gp", "C"): [19, 25, 23]})
    assert verdict(worse, "sn_never_significantly_worse") == "not reproduced"
    one_seed = frame({("spectral_norm", "C"): [20], ("wgan_gp", "C"): [30]}, seeds=(0,))
    assert verdict(one_seed, "sn_never_significantly_worse") == "inconclusive"


def test_degrades_with_n_dis():
    d = SETTINGS["D"]

    def runs(wn, sn):
        return runs_frame([run(reg, name, seed, fid, **{**d, "n_dis": n})
                           for reg, by in (("weight_norm", wn), ("spectral_norm", sn))
                           for (name, n), fids in zip((("D-n1", 1), ("D", 5)), by) for seed, fid in enumerate(fids)])

    assert verdict(runs(([20, 21, 22], [80, 85, 90]), ([20, 22, 21], [21, 20, 23])), "wn_degrades_with_n_dis") == "reproduced"
    assert verdict(runs(([20, 21, 22], [80, 85, 90]), ([20, 21, 22], [80, 85, 90])),
                   "wn_degrades_with_n_dis") == "not reproduced"  # SN degrades too
    assert verdict(runs(([20, 30, 25], [28, 22, 26]), ([20, 22, 21], [21, 20, 23])), "wn_degrades_with_n_dis") == "inconclusive"
    assert verdict(frame({("weight_norm", "D"): [1, 2, 3], ("spectral_norm", "D"): [1, 2, 3]}),
                   "wn_degrades_with_n_dis") == "not applicable"  # one n_dis only


def test_cost_rule():
    def runs(sn, wgan):
        return runs_frame([run(reg, "D", seed, 10.0, sec=sec) for reg, secs in (("none", [1.0, 1.0, 1.0]),
                           ("spectral_norm", sn), ("wgan_gp", wgan)) for seed, sec in enumerate(secs)])

    assert verdict(runs([1.10, 1.11, 1.12], [1.9, 2.0, 2.1]), "cost_sn_cheap_wgan_gp_dear") == "reproduced"
    assert verdict(runs([1.30, 1.31, 1.32], [1.9, 2.0, 2.1]), "cost_sn_cheap_wgan_gp_dear") == "not reproduced"
    assert verdict(runs([1.0, 1.4, 1.2], [1.9, 2.0, 2.1]), "cost_sn_cheap_wgan_gp_dear") == "inconclusive"


def test_intervals_stop_at_the_least_value_a_score_can_take():
    mean, low, high = mean_ci([10.0, 400.0, 30.0], floor=0.0)  # FID: the t interval would reach below 0
    assert low == 0.0 and high == mean_ci([10.0, 400.0, 30.0])[2] and mean_ci([10.0, 400.0, 30.0])[1] < 0
