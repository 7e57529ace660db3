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


@pytest.mark.parametrize("name", ["findings_long", "scores", "pairwise", "success_long", "budget", "mean_ranks"])
def test_the_committed_digits_paper_report_is_what_the_code_makes_of_its_results(regenerated, name):
    pd.testing.assert_frame_equal(pd.read_csv(regenerated / f"{name}.csv"), table("digits-paper", name))


def test_the_readme_digits_table_gives_the_reports_verdicts():
    section = README.split("**Which of the paper's findings reproduce on the digits**")[1].split("Across the six")[0]
    rows = [row.split("|")[1:-1] for row in re.findall(r"\| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \|", section)][1:]
    verdicts = table("digits-paper", "findings_long").set_index("id")["verdict"]
    assert [r[2].strip() for r in rows] == [verdicts[i] for i in TABLE_IDS]
    assert "reproduced" not in list(verdicts)  # "None is reproduced"
    needed = table("digits-paper", "findings_long").set_index("id")["seeds_needed"]
    assert needed["clipping_worse_than_sn"] == needed["bn_ln_lose_to_sn_at_high_lr"] == 8  # "about 8 seeds"


# each fragment of the README's digits table, beside the text of the committed findings that says it
EVIDENCE = {
    "clipping_worse_than_sn": ["P = 1.00 [1.00, 1.00], p = 0.050 (Holm 0.250)"],
    "bn_ln_lose_to_sn_at_high_lr": ["P = 0.89 [0.56, 1.00], p = 0.100 (Holm 0.200)",
                                    "P = 1.00 [1.00, 1.00], p = 0.050 (Holm 0.200)"],
    "sn_not_inferior_to_best": ["A: spectral_norm <= 1.2 x wgan_gp: median FID 67.8 vs 36.5"],
    "sn_beats_wgan_gp_at_high_lr": ["median FID 67.1 vs 66.0", "median FID 71.5 vs 352, P = 0.78",
                                    "median FID 425 vs 541"],
    "cost_sn_cheap_wgan_gp_dear": ["1.25x none [1.21, 1.29]", "2.04x none [2.00, 2.08]"],
}


def test_the_readme_digits_table_quotes_the_reports_evidence():
    findings = table("digits-paper", "findings_long").set_index("id")
    for finding, fragments in EVIDENCE.items():
        for fragment in fragments:
            assert fragment in findings.loc[finding, "evidence"], (finding, fragment)
    assert findings.loc["clipping_worse_than_sn", "evidence"].count("P = 1.00 [1.00, 1.00], p = 0.050 (Holm 0.250)") == 5
    for text in ("P = 1.00, p = 0.05 each, Holm 0.25", "P = 0.89-1.00 (Holm 0.20)", "WGAN-GP 36.5 vs 67.8 at A",
                 "72 vs 352 at E (P = 0.78)", "425 vs 541 at F", "1.25x [1.21, 1.29]", "2.04x [2.00, 2.08]"):
        assert text in README, text


def test_the_readme_numbers_across_settings_are_the_reports():
    success = table("digits-paper", "success_long").set_index("regularizer")
    sn = success.loc["spectral_norm"]
    assert (sn["successes"], sn["runs"]) == (14, 18)
    assert f"({sn['success_rate']:.2f} [{sn['success_low']:.2f}, {sn['success_high']:.2f}])" in README
    counts = success["successes"].to_dict()
    assert (counts["orthonormal"], counts["wgan_gp"], counts["weight_norm"], counts["none"]) == (9, 7, 6, 3)
    assert (counts["weight_clipping"], counts["layer_norm"], counts["batch_norm"]) == (1, 1, 0)
    ranks = table("digits-paper", "mean_ranks").set_index("regularizer")["mean rank"]
    assert ranks.idxmin() == "spectral_norm" and f"({ranks.min():.2f} of" in README
    md = (REPORTS / "digits-paper" / "report.md").read_text()
    friedman = re.search(r"Friedman's test of equal mean ranks gives p = ([0-9.e-]+)", md).group(1)
    assert f"p = {friedman}" in README
    budget = table("digits-paper", "budget").set_index("regularizer")["k=1"]
    assert budget["spectral_norm"] == "137.2 [98.1, 181.6]" and "137 [98, 182]" in README
    assert budget["orthonormal"] == "240.7 [178.0, 312.7]" and "241 [178, 313] for orthonormal" in README
    others = [float(v.split()[0]) for r, v in budget.items() if r not in ("spectral_norm", "orthonormal")]
    assert (round(min(others)), round(max(others))) == (432, 1222) and "432-1222 for the others" in README
    scores = table("digits-paper", "scores")
    at_f = scores[scores["setting"] == "F"]
    assert (at_f["successes"].sum(), (at_f["ok"] + at_f["diverged"]).sum()) == (1, 24)  # "1 run of 24 trained"


def test_the_readme_nemenyi_p_values_are_those_of_the_committed_results():
    from benchmark.report.comparisons import critical_difference
    from benchmark.report.render import load
    from benchmark.report.tables import runs_frame

    suite = load(REPORTS / "digits-paper" / "results" / "digits-paper")
    cd = critical_difference(runs_frame(suite.results, [r["regularizer"] for r in suite.plan["runs"]]))
    sn = cd["nemenyi"].loc["spectral_norm"]
    assert f"{sn['batch_norm']:.3f}" == "0.001" and f"{sn['layer_norm']:.3f}" == "0.064"
    assert (sn.drop(["spectral_norm", "batch_norm"]) > 0.05).all()  # "but not from ... the rest"
    assert "batch norm (p = 0.001) but not from layer norm (p = 0.064)" in README


def test_the_readme_default_and_beyond_numbers_are_the_reports():
    scores = table("default", "scores").set_index(["regularizer", "setting"])
    lead = scores.loc[("wgan_gp", "D")]
    assert f"{lead['fid_median']:.1f} [{lead['fid_median_low']:.1f}, {lead['fid_median_high']:.1f}]" in README
    for reg, text in (("spectral_norm", "131-450"), ("orthonormal", "102-974"), ("weight_norm", "71-687")):
        cell = scores.loc[(reg, "D")]
        assert f"{cell['fid_median_low']:.0f}-{cell['fid_median_high']:.0f}" == text
    assert table("default", "findings_long").set_index("id").loc["bn_ln_lose_to_sn_at_high_lr", "seeds_needed"] == 5
    assert not table("default", "pairwise")["separated"].any()  # "names none"
    pairs = table("beyond", "pairwise")
    at_d = pairs[pairs["setting"] == "D"].set_index(["a", "b"])["p_a_better"]
    for a in ("sn_gp", "r1", "r1_gamma1", "gradient_norm"):
        assert at_d[(a, "none")] == at_d[(a, "spectral_norm")] == 1.0, a
    beyond = table("beyond", "scores").set_index(["regularizer", "setting"])
    assert all(beyond.loc[(r, "D"), "successes"] == 0 for r in ("diffaugment", "bcr", "lecam"))
    assert all(beyond.loc[(r, "D"), "successes"] == 3 for r in ("sn_gp", "r1", "r1_gamma1", "gradient_norm"))
    for reg, text in (("sn_gp", "47.6 [41.6, 48.7]"), ("gradient_norm", "67.8 [42.8, 80.3]")):
        cell = beyond.loc[(reg, "D")]
        assert f"{cell['fid_median']:.1f} [{cell['fid_median_low']:.1f}, {cell['fid_median_high']:.1f}]" == text
        assert text in README
    medians = [beyond.loc[(r, "D"), "fid_median"] for r in ("diffaugment", "bcr", "lecam")]
    assert (round(min(medians)), round(max(medians))) == (315, 489) and "medians 315-489" in README
    two_sided = pairs[(pairs["setting"] == "D") & (pairs["a"] == "sn_gp") & (pairs["b"] == "none")]["p_exact"]
    assert float(two_sided.iloc[0]) == pytest.approx(0.1) and "two-sided p = 0.10" in README
    assert not pairs["separated"].any()


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
