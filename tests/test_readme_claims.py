"""What the README says about the committed reports is what they hold, and the digits-paper report is what
the current code makes of its committed results: a claim in the README carries its test."""
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmark.report import write_report

ROOT = Path(__file__).resolve().parents[1]
README = " ".join((ROOT / "README.md").read_text().split())  # one line: a number may wrap in the source
REPORTS = ROOT / "reports"
# the README's digits findings table, row by row
TABLE_IDS = ["clipping_worse_than_sn", "bn_ln_lose_to_sn_at_high_lr", "sn_not_inferior_to_best",
             "sn_beats_wgan_gp_at_high_lr", "wn_degrades_with_n_dis", "cost_sn_cheap_wgan_gp_dear"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits-paper")
    write_report(REPORTS / "digits-paper" / "results" / "digits-paper", out_dir=out)
    return out / "tables"


def table(report: str, name: str) -> pd.DataFrame:
    return pd.read_csv(REPORTS / report / "tables" / f"{name}.csv")


@pytest.mark.parametrize("name", ["findings_long", "scores", "pairwise", "success_long", "budget", "mean_ranks",
                                  "findings_over_training", "precision_per_setting"])
def test_the_committed_digits_paper_report_is_what_the_code_makes_of_its_results(regenerated, name):
    pd.testing.assert_frame_equal(pd.read_csv(regenerated / f"{name}.csv"), table("digits-paper", name))


def test_the_digits_paper_results_are_the_suites_480_runs_from_one_code_version():
    import json

    from benchmark.suite import expand, load_suite
    results = [json.loads(p.read_text()) for p in (REPORTS / "digits-paper" / "results" / "digits-paper").glob("*.json")]
    planned = {r.run_id for r in expand(load_suite(ROOT / "suites" / "digits-paper.yaml"))}
    assert len(results) == 480 and {r["run_id"] for r in results} == planned
    assert {r["environment"]["git_commit"] for r in results} == {"07fb725dc0496e56287e5d478c1a94cc1fa39bfc"}
    assert not any(r["environment"]["git_dirty"] for r in results)
    assert {r["steps_done"] for r in results} == {500} and {r["d_passes"] for r in results} == {"separate"}


def digits_rows() -> list[list[str]]:
    section = README.split("**Which of the paper's findings reproduce on the digits**")[1].split("Do the verdicts")[0]
    return [[c.strip() for c in row.split("|")[1:-1]]
            for row in re.findall(r"\| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \|", section)][1:]


def test_the_readme_digits_table_gives_the_reports_verdicts():
    verdicts = table("digits-paper", "findings_long").set_index("id")["verdict"]
    said = [r[3] for r in digits_rows()]
    assert said[:-1] == [verdicts[i] for i in TABLE_IDS[:-1]]
    # the cost row is not read as evidence, and says what the report says and why
    assert said[-1] == "(not evidence)" and verdicts["cost_sn_cheap_wgan_gp_dear"] == "not reproduced"
    needed = table("digits-paper", "findings_long").set_index("id")
    assert needed.loc["sn_not_inferior_to_best", "seeds_needed"] == 34  # "about 34 seeds per cell"
    assert round(needed.loc["sn_not_inferior_to_best", "smallest_detectable"], 1) == 1.7  # "detect a 1.7x"
    scores = table("digits-paper", "scores")
    low = scores[scores["setting"].isin(["A", "B", "C"])]
    assert low["successes"].sum() == 0 and (low["ok"] + low["diverged"]).sum() == 240  # "none of 240 runs"


# each fragment of the README's digits table, beside the text of the committed findings that says it
EVIDENCE = {
    "clipping_worse_than_sn": ["D: spectral_norm < weight_clipping: median FID 79.1 vs 1135, P = 1.00 [1.00, 1.00]",
                               "E: spectral_norm < weight_clipping: median FID 66.3 vs 552, P = 1.00 [1.00, 1.00]",
                               "(Holm 1.1e-05)"],
    "bn_ln_lose_to_sn_at_high_lr": ["P = 0.99 [0.94, 1.00]", "P = 1.00 [1.00, 1.00]", "(Holm 2.2e-05)"],
    "sn_not_inferior_to_best": ["E: spectral_norm <= 1.2 x none: median FID 66.3 vs 142", "(Holm 0.001)",
                                "D: spectral_norm <= 1.2 x wgan_gp: median FID 79.1 vs 80.6", "(Holm 0.143)"],
    "sn_beats_wgan_gp_at_high_lr": ["median FID 66.3 vs 357", "(Holm 0.002)", "median FID 79.1 vs 80.6, P = 0.50",
                                    "median FID 485 vs 527, P = 0.49"],
    "cost_sn_cheap_wgan_gp_dear": ["spectral_norm: 1.03x none [0.96, 1.09]"],
}


def test_the_readme_digits_table_quotes_the_reports_evidence():
    findings = table("digits-paper", "findings_long").set_index("id")
    for finding, fragments in EVIDENCE.items():
        for fragment in fragments:
            assert fragment in findings.loc[finding, "evidence"], (finding, fragment)
    for text in ("(FID 79.1 vs 1135)", "E (66.3 vs 552)", "Holm p = 1.1e-05", "Holm p = 2.2e-05",
                 "66.3 vs `none`'s 142, Holm p = 0.001", "79.1 vs WGAN-GP's 80.6, Holm 0.143", "66.3 vs 357, Holm p = 0.002",
                 "(79.1 vs 80.6, P = 0.50)", "F (485 vs 527, P = 0.49)", "1.03x [0.96, 1.09]"):
        assert text in README, text
    scores = table("digits-paper", "scores").set_index(["regularizer", "setting"])
    assert scores.loc[("wgan_gp", "E"), "successes"] == 4  # "WGAN-GP trained in 4 of 10"


def test_the_readme_says_how_the_digits_verdicts_change_over_training():
    ids = table("digits-paper", "findings_long").set_index("finding")["id"]
    over = table("digits-paper", "findings_over_training")
    over.index = over["finding"].map(ids)
    for reproduced in ("clipping_worse_than_sn", "bn_ln_lose_to_sn_at_high_lr"):
        assert list(over.loc[reproduced].iloc[1:4]) == ["not applicable", "reproduced", "reproduced"]
    assert list(over.loc["sn_beats_wgan_gp_at_high_lr"].iloc[1:4]) == ["not reproduced", "inconclusive", "inconclusive"]
    assert set(over.loc["sn_not_inferior_to_best"].iloc[1:4]) == {"inconclusive"}
    assert "*not reproduced* at a quarter" in README and "inconclusive throughout" in README


def test_the_readme_numbers_across_settings_are_the_reports():
    success = table("digits-paper", "success_long").set_index("regularizer")
    sn = success.loc["spectral_norm"]
    assert (sn["successes"], sn["runs"]) == (19, 60)
    assert f"({sn['success_rate']:.2f} [{sn['success_low']:.2f}, {sn['success_high']:.2f}], Wilson" in README
    counts = success["successes"].to_dict()
    assert (counts["wgan_gp"], counts["none"], counts["orthonormal"], counts["weight_norm"]) == (17, 9, 7, 3)
    assert (counts["layer_norm"], counts["weight_clipping"], counts["batch_norm"]) == (2, 0, 0)
    bn = success.loc["batch_norm"]
    assert f"(0 [0, {bn['success_high']:.2f}])" in README
    scores = table("digits-paper", "scores").set_index(["regularizer", "setting"])
    assert sum(scores.loc[("spectral_norm", s), "successes"] for s in "DEF") == 19  # "19 of 30" at D-F
    ranks = table("digits-paper", "mean_ranks").set_index("regularizer")["mean rank"]
    assert list(ranks.sort_values().index[:2]) == ["spectral_norm", "none"]
    assert f"({ranks.min():.2f} of 8), then `none` ({ranks['none']:.2f})" in README
    md = (REPORTS / "digits-paper" / "report.md").read_text()
    friedman = re.search(r"Friedman's test of equal mean ranks gives p = ([0-9.e-]+)", md).group(1)
    assert f"Friedman's test gives p = {friedman}" in README
    for reg, precision, recall in (("spectral_norm", "0.43", "0.70"), ("wgan_gp", "0.37", "0.62"),
                                   ("weight_norm", "0.79", "0.36"), ("layer_norm", "0.73", "0.25")):
        cell = scores.loc[(reg, "D")]
        assert (f"{cell['precision_median']:.2f}", f"{cell['recall_median']:.2f}") == (precision, recall), reg


def test_the_same_seeds_agree_on_one_machine_and_differ_across_two():
    sweep = table("digits-paper", "scores").set_index(["regularizer", "setting"])["fid_median"]
    default = table("default", "scores").set_index(["regularizer", "setting"])["fid_median"]
    same = ["wgan_gp", "weight_clipping", "batch_norm", "layer_norm", "weight_norm", "orthonormal"]
    assert all(sweep[(r, "D")] == default[(r, "D")] for r in same)  # trained on the same VM
    assert all(sweep[(r, "D")] != default[(r, "D")] for r in ("none", "spectral_norm"))  # the sweep's on another
    import json
    days = {}
    for path in (REPORTS / "digits-paper" / "results" / "digits-paper").glob("*-D-s*.json"):
        r = json.loads(path.read_text())
        days.setdefault(r["regularizer"], set()).add(r["finished"][:10])
    assert days["none"] == days["spectral_norm"] == {"2026-12-02"} and all(days[r] == {"2026-12-03"} for r in same)
    assert f"{sweep[('wgan_gp', 'D')]:.3f}" == "80.592" and "(WGAN-GP 80.592 in both)" in README
    assert "(spectral norm 79.1 here, 60.6 in the default)" in README


def test_the_readme_nemenyi_p_values_are_those_of_the_committed_results():
    from benchmark.report.comparisons import critical_difference
    from benchmark.report.render import load
    from benchmark.report.tables import runs_frame

    suite = load(REPORTS / "digits-paper" / "results" / "digits-paper")
    cd = critical_difference(runs_frame(suite.results, [r["regularizer"] for r in suite.plan["runs"]]))
    sn = cd["nemenyi"].loc["spectral_norm"]
    assert sn["batch_norm"] < 0.001 and f"{sn['weight_clipping']:.3f}" == "0.003" and f"{sn['layer_norm']:.3f}" == "0.032"
    assert (sn[["none", "wgan_gp", "orthonormal", "weight_norm"]] > 0.05).all()  # "not from ..."
    assert "batch norm (p < 0.001), clipping (p = 0.003) and layer norm (p = 0.032)" in README


def cell_text(scores, reg, setting, digits=1):
    c = scores.loc[(reg, setting)]
    return f"{c['fid_median']:.{digits}f} [{c['fid_median_low']:.{digits}f}, {c['fid_median_high']:.{digits}f}]"


def test_the_readme_default_numbers_are_the_reports():
    scores = table("default", "scores").set_index(["regularizer", "setting"])
    assert (scores["ok"] + scores["diverged"]).min() == 10  # "ten seeds each"
    for reg, setting, digits, trained in (("spectral_norm", "D", 1, 10), ("wgan_gp", "D", 1, 9),
                                          ("layer_norm", "D-ndis1", 0, 6), ("weight_norm", "D-ndis1", 0, 5)):
        assert cell_text(scores, reg, setting, digits) in README, (reg, setting)
        assert scores.loc[(reg, setting), "successes"] == trained
    assert "(60.6 [38.7, 87.9], 10 of 10" in README and "(138 [109, 227], 6 of 10)" in README
    for reg, median in (("spectral_norm", "718"), ("wgan_gp", "1006")):
        assert f"{scores.loc[(reg, 'D-ndis1'), 'fid_median']:.0f}" == median and scores.loc[(reg, "D-ndis1"), "successes"] == 0
    pairs = table("default", "pairwise").set_index(["setting", "a", "b"])
    sn_wgan = pairs.loc[("D", "spectral_norm", "wgan_gp")]
    assert (sn_wgan["p_a_better"], sn_wgan["ci_low"], sn_wgan["ci_high"]) == pytest.approx((0.74, 0.49, 0.94))
    assert f"{sn_wgan['p_adjusted']:.2f}" == "0.53" and not sn_wgan["separated"]
    assert "74% of run pairs [0.49, 0.94]" in README and "(Holm p = 0.53)" in README
    separated = pairs[pairs["separated"]].reset_index()

    def beaten_by(a, setting):
        here = separated[(separated["setting"] == setting) & (separated["a"] == a) & (separated["p_a_better"] > 0.5)]
        return set(here["b"])
    assert len(beaten_by("spectral_norm", "D")) == 6 and len(beaten_by("wgan_gp", "D")) == 4
    assert not ({"none", "orthonormal"} & beaten_by("wgan_gp", "D"))
    assert len(beaten_by("layer_norm", "D-ndis1")) == len(beaten_by("weight_norm", "D-ndis1")) == 6
    findings = table("default", "findings_long").set_index("id")
    verdicts = findings["verdict"].to_dict()
    assert {k: verdicts[k] for k in ("clipping_worse_than_sn", "bn_ln_lose_to_sn_at_high_lr", "wn_degrades_with_n_dis",
                                     "sn_beats_wgan_gp_at_high_lr")} == dict.fromkeys(
        ("clipping_worse_than_sn", "bn_ln_lose_to_sn_at_high_lr", "wn_degrades_with_n_dis", "sn_beats_wgan_gp_at_high_lr"),
        "reproduced")
    assert verdicts["sn_not_inferior_to_best"] == "not reproduced" and verdicts["cost_sn_cheap_wgan_gp_dear"] == "inconclusive"
    for finding, fragment in (("wn_degrades_with_n_dis", "median FID 148 vs 702, P = 0.91 [0.74, 1.00], p = 5.3e-04"),
                              ("wn_degrades_with_n_dis", "median FID 60.6 vs 718"),
                              ("sn_beats_wgan_gp_at_high_lr", "p = 0.038 (Holm 0.038)"),
                              ("bn_ln_lose_to_sn_at_high_lr", "(Holm 1.1e-05)"),
                              ("sn_not_inferior_to_best", "median FID 718 vs 138, P = 0.00 [0.00, 0.00]"),
                              ("cost_sn_cheap_wgan_gp_dear", "spectral_norm: 1.24x none over 1 group pairs"),
                              ("cost_sn_cheap_wgan_gp_dear", "wgan_gp: 1.31x none over 1 group pairs")):
        assert fragment in findings.loc[finding, "evidence"], (finding, fragment)
    assert "settings E, F not in these results" in findings.loc["sn_beats_wgan_gp_at_high_lr", "scope"]
    for text in ("148 at n_dis 1 against 702 at n_dis 5, P = 0.91", "one-sided p = 0.038", "718 to 60.6",
                 "spectral norm 1.24x and WGAN-GP 1.31x"):
        assert text in README, text
    cost = table("default", "cost").set_index("regularizer")
    assert cost.loc["weight_clipping", "D"].endswith("(0.80x)") and "weight clipping reads 0.80x" in README
    ids = findings.reset_index().set_index("finding")["id"]
    over = table("default", "findings_over_training")
    over = over.set_index(over["finding"].map(ids))
    for finding in ("sn_beats_wgan_gp_at_high_lr", "wn_degrades_with_n_dis"):
        assert list(over.loc[finding].iloc[1:4]) == ["not reproduced", "inconclusive", "reproduced"], finding
    md = (REPORTS / "default" / "report.md").read_text()
    assert "at **D** no leader" in md and "at **D-ndis1** no leader" in md  # "it names none"


def test_the_readme_beyond_numbers_are_the_reports():
    scores = table("beyond", "scores").set_index(["regularizer", "setting"])
    assert cell_text(scores, "r1", "D") == "47.0 [29.6, 58.1]" and scores.loc[("r1", "D"), "successes"] == 10
    assert cell_text(scores, "gradient_norm", "D") == "54.9 [51.7, 70.8]" and cell_text(scores, "diffaugment", "D", 0) == "138 [124, 215]"
    for text in ("47.0 [29.6, 58.1] (10 of 10", "(54.9 [51.7, 70.8])", "DiffAugment (138 [124, 215])",
                 "bCR (97.3) and LeCam (97.7)", "medians 406-840"):
        assert text in README, text
    assert [f"{scores.loc[(r, 'D'), 'fid_median']:.1f}" for r in ("bcr", "lecam")] == ["97.3", "97.7"]
    assert [scores.loc[(r, "D"), "successes"] for r in ("bcr", "lecam")] == [9, 9]
    plugins = ["r1", "r1_gamma1", "sn_gp", "diffaugment", "bcr", "lecam", "gradient_norm"]
    at_n1 = [scores.loc[(r, "D-ndis1"), "fid_median"] for r in plugins]
    assert (round(min(at_n1)), round(max(at_n1))) == (406, 840)
    assert all(scores.loc[(r, "D-ndis1"), "successes"] == 0 for r in plugins)
    assert all(scores.loc[(r, "D-ndis1"), "successes"] > 0 for r in ("layer_norm", "weight_norm"))
    pairs = table("beyond", "pairwise")
    at_d = pairs[pairs["setting"] == "D"].set_index(["a", "b"])
    assert len(at_d) // 2 == 105
    tied = {b for (a, b), row in at_d.iterrows() if a == "r1" and not row["separated"]}
    assert tied == {"spectral_norm", "r1_gamma1", "sn_gp", "gradient_norm"}
    assert all(at_d.loc[("r1", b), "p_a_better"] > 0.5 for b in set(at_d.loc["r1"].index) - tied)  # "from the ten others"
    assert len(set(at_d.loc["r1"].index) - tied) == 10
    sn = at_d.loc[("r1", "spectral_norm")]
    assert (sn["p_a_better"], sn["ci_low"], sn["ci_high"]) == pytest.approx((0.82, 0.62, 0.97)) and "82% of run pairs [0.62, 0.97]" in README
    for b in ("spectral_norm", "r1", "gradient_norm"):
        assert at_d.loc[("diffaugment", b), "p_a_better"] == 0.0 and at_d.loc[("diffaugment", b), "separated"]
    for a in ("bcr", "lecam"):
        assert at_d.loc[(a, "r1"), "separated"] and at_d.loc[(a, "r1"), "p_a_better"] < 0.5


def test_the_readme_fused_speedups_are_the_committed_perf_rows():
    perf = (ROOT / "reports" / "perf" / "perf.md").read_text()
    ratios = {}
    for line in perf.splitlines():
        m = re.match(r"\| fused 10 seeds, (\w+) \(default suite's model, n_dis (\d);.*\| (\d+\.\d+)x solo's throughput", line)
        if m:
            ratios.setdefault(int(m.group(2)), []).append(float(m.group(3)))
    assert sorted(ratios) == [1, 5] and all(len(v) == 3 for v in ratios.values())
    readme = " ".join((ROOT / "README.md").read_text().split())
    for n_dis, values in ratios.items():
        assert f"{min(values):.2f}-{max(values):.2f}x less at n_dis {n_dis}" in readme, (n_dis, values)
    every = [v for values in ratios.values() for v in values]
    assert f"fusing the seeds wins back {min(every):.2f}-{max(every):.2f}x" in readme  # the default's time, explained
