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
    scores = table("digits-paper", "scores")
    at_f = scores[scores["setting"] == "F"]
    assert (at_f["successes"].sum(), (at_f["ok"] + at_f["diverged"]).sum()) == (1, 24)  # "1 run of 24 trained"


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
    assert not pairs["separated"].any()
