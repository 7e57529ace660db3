"""What the README and the docs say about the committed reports is what they hold, and the digits-paper report
is what the current code makes of its committed results: a claim carries its test. The README quotes numbers
through generated blocks (tests/test_glance.py); the prose claims it makes are checked at the end of this file.
The reference that moved to docs/ is read here as one text with the README."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmark.report import write_report

ROOT = Path(__file__).resolve().parents[1]
# one line: a number may wrap in the source
README = " ".join(" ".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]).split())
REPORTS = ROOT / "reports"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits-paper")
    write_report(REPORTS / "digits-paper" / "results" / "digits-paper", out_dir=out)
    return out / "tables"


def table(report: str, name: str) -> pd.DataFrame:
    return pd.read_csv(REPORTS / report / "tables" / f"{name}.csv")


# the digits-cnn regbench ships, which scored every committed digits run
SHIPPED = "d4e1dc2d82df861a"


@pytest.mark.parametrize("name", ["findings_long", "scores", "pairwise", "success_long", "budget",
                                  "findings_over_training", "precision_per_setting"])
def test_the_committed_digits_paper_report_is_what_the_code_makes_of_its_results(regenerated, name):
    pd.testing.assert_frame_equal(pd.read_csv(regenerated / f"{name}.csv"), table("digits-paper", name))


def digits_paper_results() -> list[dict]:
    import json

    return [json.loads(p.read_text()) for p in (REPORTS / "digits-paper" / "results" / "digits-paper").glob("*.json")]


def test_the_digits_paper_results_are_the_suites_480_runs_from_one_code_version_on_one_instrument():
    from benchmark.instruments import manifest
    from benchmark.suite import expand, load_suite
    results = digits_paper_results()
    planned = {r.run_id for r in expand(load_suite(ROOT / "suites" / "digits-paper.yaml"))}
    assert len(results) == 480 and {r["run_id"] for r in results} == planned
    assert {r["environment"]["git_commit"] for r in results} == {"e4300643ea145e997eae4b318b519ca05e683ce1"}
    assert not any(r["environment"]["git_dirty"] for r in results)
    assert {r["steps_done"] for r in results} == {500} and {r["d_passes"] for r in results} == {"separate"}
    assert {r["feature_extractor_weights"] for r in results} == {SHIPPED} == {manifest()["digits-cnn"]["module_hash"]}
    assert {r["environment"]["cpu"] for r in results} == {"Intel(R) Xeon(R) Processor"}
    assert "Two instruments" not in (REPORTS / "digits-paper" / "report.md").read_text()
    assert f"scored by the digits-cnn regbench ships (`{SHIPPED}`)" in README


def test_the_readme_gives_the_digits_paper_verdicts():
    findings = table("digits-paper", "findings_long").set_index("id")
    said = {"clipping_worse_than_sn": "reproduced at D, E (A-C, F: nothing trained)",
            "bn_ln_lose_to_sn_at_high_lr": "reproduced at D, E (F: nothing trained)",
            "sn_beats_wgan_gp_at_high_lr": "inconclusive", "sn_not_inferior_to_best": "inconclusive at D-F (A-C: nothing trained)",
            "wn_degrades_with_n_dis": "not applicable", "cost_sn_cheap_wgan_gp_dear": "inconclusive"}
    for finding, verdict in said.items():
        assert findings.loc[finding, "verdict in full"] == verdict, finding
        assert f"*{verdict}*" in README, finding
    evidence = findings.loc["sn_beats_wgan_gp_at_high_lr", "evidence"]
    for fragment in ("D: spectral_norm < wgan_gp: median FID 79.1 vs 78.8", "E: spectral_norm < wgan_gp: median FID 66.3 vs 213",
                     "p = 0.001"):
        assert fragment in evidence, fragment
    assert "median FID 66.3 vs 213, p = 0.001, but the two tie at D, 79.1 vs 78.8" in README
    scores = table("digits-paper", "scores")
    assert scores[scores["setting"].isin(list("ABC"))]["successes"].sum() == 0  # "nothing trains at A, B or C"
    pairs = table("digits-paper", "pairwise")
    for setting in "DEF":  # "at D, E and F no regularizer is separated from every other"
        at = pairs[(pairs["setting"] == setting) & pairs["separated"]]
        partners = {reg: set(at.loc[at["a"] == reg, "b"]) | set(at.loc[at["b"] == reg, "a"])
                    for reg in set(pairs["a"])}
        assert len(partners) == 8 and max(len(p) for p in partners.values()) < 7, setting
    assert "at D, E and F no regularizer is separated from every other" in README


def sweep_seconds(results: list[dict]) -> float:
    """From the first run's start to the last run's end, as the result files record them."""
    import datetime as dt

    ends = [dt.datetime.strptime(r["finished"], "%Y-%m-%dT%H:%M:%S%z").timestamp() for r in results]
    return max(ends) - min(end - r["wall_seconds"] for end, r in zip(ends, results))


def test_the_digits_paper_sweep_took_the_time_the_readme_says_on_one_boot():
    results = digits_paper_results()
    assert len({r["environment"]["boot_id"] for r in results}) == 1  # one machine, one sitting
    # the sweep's own clock (3426 s) also counts starting up before the first run and writing after the last
    assert 3400 <= sweep_seconds(results) <= 3426 and "3426 s" in README


def test_the_fashion_budget_probe_numbers_in_the_suite_are_its_results():
    import json
    import statistics

    suite = " ".join((ROOT / "suites" / "fashion-mnist.yaml").read_text().replace("#", " ").split())
    results = [json.loads(p.read_text()) for p in
               (REPORTS / "fashion-mnist-budget-probe" / "results" / "fashion-mnist-budget-probe").glob("*.json")]
    assert len(results) == 16 and {r["status"] for r in results} == {"ok"}
    fid_at = [dict(zip(r["history"]["eval_step"], (e["fid"] for e in r["history"]["eval"]))) for r in results]
    medians = [round(statistics.median(f[step] for f in fid_at)) for step in (125, 250, 500, 1000)]
    assert f"median FID {' '.join(map(str, medians))}" in suite
    for setting in "BD":
        cells = [f for f, r in zip(fid_at, results) if r["setting"] == setting]
        row = [round(statistics.median(f[step] for f in cells)) for step in (125, 250, 500, 1000)]
        assert f"{setting} {' '.join(map(str, row))}" in suite, setting
    best_b = min((f[500], r["regularizer"]) for f, r in zip(fid_at, results) if r["setting"] == "B")
    assert best_b[1] == "orthonormal" and f"orthonormal's {best_b[0]:.0f}" in suite
    assert min(f[1000] for f, r in zip(fid_at, results) if r["setting"] == "B") > 200  # "B has not trained"
    per_update = {s: sum(r["wall_seconds"] for r in results if r["setting"] == s) / 8000 for s in "BD"}
    assert f"{per_update['D']:.2f} s per update at n_dis 5 and {per_update['B']:.2f} s at n_dis 1" in suite
    assert 2300 <= sweep_seconds(results) <= 2313 and "The probe took 2,313 s" in suite


def test_the_same_seeds_agree_on_the_same_kind_of_cpu_and_one_network():
    import json

    def fids(folder):
        out = {}
        for path in folder.glob("*.json"):
            r = json.loads(path.read_text())
            if r["setting"] == "D":
                out[(r["regularizer"], r["seed"])] = (r["fid"], r["feature_extractor_weights"], r["fused"]["size"],
                                                      r["environment"]["git_commit"])
        return out
    here = fids(REPORTS / "default" / "results" / "default")
    sweep = fids(REPORTS / "digits-paper" / "results" / "digits-paper")
    assert len(here) == len(sweep) == 80 and here.keys() == sweep.keys()  # "all 80 runs at D"
    assert all(here[k][0] == sweep[k][0] for k in here)  # "run for run, the FIDs"
    assert {v[1] for v in here.values()} == {v[1] for v in sweep.values()} == {SHIPPED}
    assert {v[2] for v in here.values()} == {10} and {v[2] for v in sweep.values()} == {20}  # groups of 10 and 20
    assert len({v[3] for v in here.values()} | {v[3] for v in sweep.values()}) == 2  # two commits
    assert "all 80 runs at D here have, run for run, the FIDs" in README


def test_the_readme_scorer_table_is_the_manifest_and_the_validation():
    from benchmark.instruments import manifest

    for name, entry in manifest().items():
        row = f"{entry['test_accuracy']:.4f}"
        assert row in README and f"{round(entry['bytes'] / 1000)} kB, {entry['params']:,} parameters" in README, name
        assert f"`{entry['module_hash']}` |" in README, name
    for name, held, floor in (("fashion-cnn", "0.59", "0.60"), ("digits-cnn", "6.33", "5.46")):
        t = pd.read_csv(ROOT / "docs" / "instruments" / f"{name}.csv").set_index("check")["fid"]
        assert (f"{t['held-out split']:.2f}", f"{t['floor: train vs train']:.2f}") == (held, floor), name
    assert "FID 0.59 against 0.60 for two halves" in README and "digits: 6.33 against 5.46" in README


def cell_text(scores, reg, setting, digits=1):
    c = scores.loc[(reg, setting)]
    return f"{c['fid_median']:.{digits}f} [{c['fid_median_low']:.{digits}f}, {c['fid_median_high']:.{digits}f}]"


def test_the_readme_default_numbers_are_the_reports():
    scores = table("default", "scores").set_index(["regularizer", "setting"])
    assert (scores["ok"] + scores["diverged"]).min() == 10  # "ten seeds each"
    for reg, setting, digits, trained in (("wgan_gp", "D", 1, 8), ("spectral_norm", "D", 1, 10),
                                          ("layer_norm", "D-ndis1", 1, 7)):
        assert f"{cell_text(scores, reg, setting, digits)}, {trained} of 10" in README, (reg, setting)
        assert scores.loc[(reg, setting), "successes"] == trained
    wn = scores.loc[("weight_norm", "D-ndis1")]
    assert (f"{wn['fid_median']:.0f}", f"{wn['fid_median_low']:.1f}", f"{wn['fid_median_high']:.0f}", wn["successes"]) == (
        "152", "69.5", "257", 5) and "(152 [69.5, 257], 5 of 10)" in README
    for reg, median in (("spectral_norm", "543"), ("wgan_gp", "856")):
        assert f"{scores.loc[(reg, 'D-ndis1'), 'fid_median']:.0f}" == median and scores.loc[(reg, "D-ndis1"), "successes"] == 0
        assert f"({median}, 0 of 10)" in README
    pairs = table("default", "pairwise").set_index(["setting", "a", "b"])
    tie = pairs.loc[("D", "wgan_gp", "spectral_norm")]
    assert f"P = {tie['p_a_better']:.2f} [{tie['ci_low']:.2f}, {tie['ci_high']:.2f}]" == "P = 0.48 [0.26, 0.71]"
    assert not tie["separated"] and "(P = 0.48 [0.26, 0.71] that a WGAN-GP run" in README
    separated = pairs[pairs["separated"]].reset_index()

    def beaten_by(a, setting):
        here = separated[(separated["setting"] == setting) & (separated["a"] == a) & (separated["p_a_better"] > 0.5)]
        return set(here["b"])
    assert len(beaten_by("spectral_norm", "D")) == 6 and beaten_by("wgan_gp", "D") == {"batch_norm", "weight_clipping"}
    assert len(beaten_by("layer_norm", "D-ndis1")) == len(beaten_by("weight_norm", "D-ndis1")) == 6
    findings = table("default", "findings_long").set_index("id")
    full = findings["verdict in full"].to_dict()
    assert full["clipping_worse_than_sn"] == "reproduced at D (D-ndis1: nothing trained)"
    assert full["bn_ln_lose_to_sn_at_high_lr"] == "reproduced at D (E, F: not in these results)"
    assert full["wn_degrades_with_n_dis"] == "reproduced" and full["sn_not_inferior_to_best"] == "not reproduced"
    assert full["sn_beats_wgan_gp_at_high_lr"] == "inconclusive at D (E, F: not in these results)"
    assert full["cost_sn_cheap_wgan_gp_dear"] == "inconclusive"
    assert "not even 100 seeds per cell reach 80% power: not attainable" in findings.loc["sn_beats_wgan_gp_at_high_lr", "power"]
    for finding, fragment in (("clipping_worse_than_sn", "P = 1.00 [0.80, 1.00], p = 5.4e-06"),
                              ("bn_ln_lose_to_sn_at_high_lr", "spectral_norm < layer_norm: median FID 79.1 vs 686, P = 1.00 [0.80, 1.00], p = 5.4e-06"),
                              ("wn_degrades_with_n_dis", "median FID 152 vs 411"), ("wn_degrades_with_n_dis", "p = 7.5e-04"),
                              ("wn_degrades_with_n_dis", "median FID 79.1 vs 543, median ratio 0.15 [0.09, 0.22]"),
                              ("sn_not_inferior_to_best", "median ratio 4.94 [2.94, 7.16], p = 1.000 (against: Holm 0.027)"),
                              ("cost_sn_cheap_wgan_gp_dear", "spectral_norm: 1.26x none over 1 group pairs"),
                              ("cost_sn_cheap_wgan_gp_dear", "wgan_gp: 1.67x none over 1 group pairs")):
        assert fragment in findings.loc[finding, "evidence"], (finding, fragment)
    for text in ("(every run pair, P = 1.00 [0.80, 1.00], p = 5.4e-06 each): *reproduced at D*",
                 "(152 at n_dis 1 against 411 at n_dis 5, p = 7.5e-04)", "543 to 79.1; median ratio 0.15 [0.09, 0.22]",
                 "(ratio 4.94 [2.94, 7.16], Holm p = 0.027)", "(spectral norm 1.26x and WGAN-GP 1.67x `none` at n_dis 5)",
                 "is *inconclusive at D*"):
        assert text in README, text
    ids = findings.reset_index().set_index("finding")["id"]
    over = table("default", "findings_over_training")
    over = over.set_index(over["finding"].map(ids))
    assert list(over.loc["wn_degrades_with_n_dis"].iloc[1:4]) == ["not reproduced", "not reproduced", "reproduced"]
    md = (REPORTS / "default" / "report.md").read_text()
    assert "at **D** no leader" in md and "at **D-ndis1** no leader" in md  # "it names none"


def test_the_default_report_is_what_the_code_makes_of_its_committed_results(tmp_path):
    import json

    results = [json.loads(p.read_text()) for p in (REPORTS / "default" / "results" / "default").glob("*.json")]
    assert len(results) == 160 and {r["feature_extractor_weights"] for r in results} == {SHIPPED}
    assert len({r["environment"]["git_commit"] for r in results}) == 1 and not any(r["environment"]["git_dirty"] for r in results)
    write_report(REPORTS / "default" / "results" / "default", out_dir=tmp_path / "r")
    for name in ("findings_long", "scores", "pairwise"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r" / "tables" / f"{name}.csv"), table("default", name))


def test_the_readme_beyond_numbers_are_the_reports():
    scores = table("beyond", "scores").set_index(["regularizer", "setting"])
    assert cell_text(scores, "r1", "D") == "45.1 [34.8, 62.1]" and scores.loc[("r1", "D"), "successes"] == 10
    for reg, text in (("r1_gamma1", "59.6 [39.6, 75.7]"), ("gradient_norm", "60.9 [50.9, 89.8]")):
        assert cell_text(scores, reg, "D") == text and f"({text})" in README, reg
    assert cell_text(scores, "diffaugment", "D", 0) == "144 [119, 196]" and scores.loc[("diffaugment", "D"), "successes"] == 6
    bcr = scores.loc[("bcr", "D")]
    assert (f"{bcr['fid_median']:.0f}", f"{bcr['fid_median_low']:.0f}", f"{bcr['fid_median_high']:.0f}") == ("118", "37", "190")
    assert f"{scores.loc[('lecam', 'D'), 'fid_median']:.0f}" == "109" and scores.loc[("lecam", "D"), "successes"] == 7
    for text in ("45.1 [34.8, 62.1] (10 of", "bCR (118, whose", "from 37 to 190", "DiffAugment (144 [119, 196], 6 of 10)",
                 "LeCam (109, 7 of 10)", "medians 420-729"):
        assert text in README, text
    plugins = ["r1", "r1_gamma1", "sn_gp", "diffaugment", "bcr", "lecam", "gradient_norm"]
    at_n1 = [scores.loc[(r, "D-ndis1"), "fid_median"] for r in plugins]
    assert (round(min(at_n1)), round(max(at_n1))) == (420, 729)
    assert all(scores.loc[(r, "D-ndis1"), "successes"] == 0 for r in plugins)
    assert all(scores.loc[(r, "D-ndis1"), "successes"] > 0 for r in ("layer_norm", "weight_norm"))
    pairs = table("beyond", "pairwise")
    at_d = pairs[pairs["setting"] == "D"].set_index(["a", "b"])
    assert len(at_d) // 2 == 105
    tied = {b for (a, b), row in at_d.iterrows() if a == "r1" and not row["separated"]}
    assert tied == {"spectral_norm", "r1_gamma1", "bcr", "gradient_norm"}
    assert all(at_d.loc[("r1", b), "p_a_better"] > 0.5 for b in set(at_d.loc["r1"].index) - tied)  # "from the ten others"
    assert len(set(at_d.loc["r1"].index) - tied) == 10
    sn = at_d.loc[("r1", "spectral_norm")]
    assert (round(sn["p_a_better"], 2), round(sn["ci_low"], 2), round(sn["ci_high"], 2), round(sn["p_adjusted"], 2)) == (
        0.88, 0.63, 0.97, 0.13) and "88% of run pairs [0.63, 0.97], Holm p = 0.13" in README
    for b in ("r1", "r1_gamma1", "gradient_norm"):
        assert at_d.loc[("diffaugment", b), "p_a_better"] == 0.0 and at_d.loc[("diffaugment", b), "separated"]
    assert round(at_d.loc[("diffaugment", "spectral_norm"), "p_a_better"], 2) == 0.03  # "on 97%"
    assert at_d.loc[("diffaugment", "spectral_norm"), "separated"]
    assert {b for (a, b), row in at_d.iterrows() if a == "lecam" and row["separated"] and row["p_a_better"] < 0.5} == {
        "r1", "r1_gamma1", "gradient_norm"}


def test_the_beyond_report_is_what_the_code_makes_of_its_committed_results(tmp_path):
    import json

    folders = [REPORTS / "default" / "results" / "default", REPORTS / "beyond" / "results" / "beyond"]
    results = [json.loads(p.read_text()) for f in folders for p in f.glob("*.json")]
    assert {r["feature_extractor_weights"] for r in results} == {SHIPPED}
    assert {r["environment"]["git_commit"] for r in results} == {"bfd2f7c5ca19321322865467be2187a737a87aab"}
    write_report(folders, out_dir=tmp_path / "r")
    for name in ("findings_long", "scores", "pairwise"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r" / "tables" / f"{name}.csv"), table("beyond", name))


def test_the_readme_fused_speedups_are_the_committed_perf_rows():
    perf = (ROOT / "reports" / "perf" / "perf.md").read_text()
    ratios = {}
    for line in perf.splitlines():
        m = re.match(r"\| fused 10 seeds, (\w+) \(default suite's model, n_dis (\d);.*\| (\d+\.\d+)x solo's throughput", line)
        if m:
            ratios.setdefault(int(m.group(2)), []).append(float(m.group(3)))
    assert sorted(ratios) == [1, 5] and all(len(v) == 3 for v in ratios.values())
    readme = README
    for n_dis, values in ratios.items():
        assert f"{min(values):.2f}-{max(values):.2f}x less at n_dis {n_dis}" in readme, (n_dis, values)
    every = [v for values in ratios.values() for v in values]
    assert f"fusing the seeds wins back {min(every):.2f}-{max(every):.2f}x" in readme  # the default's time, explained


def test_the_protocols_instrument_table_is_the_committed_validation():
    from benchmark.instruments import manifest
    from benchmark.scorers.validate import summary

    tables = [pd.read_csv(ROOT / "docs" / "instruments" / f"{n}.csv") for n in ("digits-cnn", "fashion-cnn")]
    accuracies = {n: e["test_accuracy"] for n, e in manifest().items()}
    assert summary(tables, accuracies) in (ROOT / "docs" / "protocol.md").read_text()
    assert (ROOT / "docs" / "instruments" / "validation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_readme_fashion_quick_numbers_are_the_committed_reports():
    folder = REPORTS / "fashion-mnist-quick"
    scores = table("fashion-mnist-quick", "scores").set_index("regularizer")["fid_median"]
    assert [f"{scores[r]:.1f}" for r in ("wgan_gp", "none", "spectral_norm")] == ["61.9", "99.2", "111.8"]
    assert "FID 61.9 (WGAN-GP), 99.2 (`none`) and 111.8 (spectral norm) against 1.11" in README
    best = table("fashion-mnist-quick", "best")
    assert f"{float(best.iloc[0]['best FID (fashion-cnn)']):.2f}" == "1.11" and "n=2000" in best.iloc[0]["regularizer"]
    import json
    results = [json.loads(p.read_text()) for p in (folder / "results" / "fashion-mnist-quick").glob("*.json")]
    assert {r["feature_extractor_weights"] for r in results} == {"a4e5fe69ca08aa7e"}
    assert {r["steps_done"] for r in results} == {1000} and len(results) == 3


def test_the_readme_fuse_auto_threshold_is_what_the_perf_rows_measured():
    from benchmark.fusing import CPU_GFLOP

    rows = {}
    for line in (REPORTS / "perf" / "perf.md").read_text().splitlines():
        m = re.match(r"\| Fashion-MNIST's model, width 1/(\d), n_dis (\d) .*?; ([\d.]+) GFLOP per update;.*"
                     r"\| fused ([\d.]+)x solo's throughput; fuse auto: (\w+) \|", line)
        if m:
            rows[(int(m.group(1)), int(m.group(2)))] = (float(m.group(3)), float(m.group(4)), m.group(5))
    assert len(rows) == 4
    for gflop, speedup, decision in rows.values():
        assert decision == ("fuse" if gflop < CPU_GFLOP else "alone")
        assert gflop >= CPU_GFLOP and speedup <= 1.0  # where auto keeps runs alone, fusing did not pay
    small = [rows[(8, 1)], rows[(8, 5)]]
    assert f"{small[0][0]:.1f}-{small[1][0]:.1f} GFLOP, where fusing is {small[0][1]:.2f}-{small[1][1]:.2f}x" in README
    assert f"under {CPU_GFLOP:g} GFLOP" in README


# -- the README's own sentences ------------------------------------------------------------------
OWN = " ".join((ROOT / "README.md").read_text().split())


def separated_pair(pairs: pd.DataFrame, setting: str, a: str, b: str) -> bool:
    row = pairs[(pairs.setting == setting) & (pairs.a == a) & (pairs.b == b)]
    return bool(row["separated"].iloc[0])


def test_the_three_things_the_readme_takes_from_the_default_report():
    scores = table("default", "scores").set_index(["regularizer", "setting"])
    pairs = table("default", "pairwise")
    others = [r for r in scores.index.get_level_values(0).unique() if r != "spectral_norm"]
    # at n_dis 5 spectral norm trains every seed and is separated from six of the seven others, WGAN-GP tied
    assert scores.loc[("spectral_norm", "D"), "successes"] == scores.loc[("spectral_norm", "D"), "runs"] == 10
    apart = [o for o in others if separated_pair(pairs, "D", "spectral_norm", o)]
    assert len(apart) == 6 and "wgan_gp" not in apart
    assert "spectral norm trains every seed and is separated from six of the seven others, but WGAN-GP ties it" in OWN
    # at n_dis 1 layer norm and weight norm have the two lowest medians; spectral norm trains no run
    lowest = scores.xs("D-ndis1", level="setting")["fid_median"].nsmallest(2).index
    assert set(lowest) == {"layer_norm", "weight_norm"}
    assert scores.loc[("spectral_norm", "D-ndis1"), "successes"] == 0
    assert "(layer norm and weight norm lead, spectral norm does not train in 500 updates)" in OWN
    # SN vs WGAN-GP: inconclusive on both digits reports, and more seeds would not settle D
    finding = "At high learning rates (settings D, E, F) spectral norm beats WGAN-GP, which fails there."
    for report in ("default", "digits-paper"):
        assert table(report, "findings").set_index("finding").loc[finding, "verdict"].startswith("inconclusive")
    assert "not even 100 seeds per cell reach 80% power" in table("default", "findings").set_index(
        "finding").loc[finding, "power"]
    assert "is inconclusive on the digits, a tie at D that more seeds would not break" in OWN


def test_the_readme_bench_time_is_the_committed_default_sweep():
    import json

    results = [json.loads(p.read_text()) for p in (REPORTS / "default" / "results" / "default").glob("*.json")]
    results = [r for r in results if "run_id" in r]
    assert len(results) == 160 and len({r["environment"]["boot_id"] for r in results}) == 1
    # the sweep's own clock (867 s) also counts loading data and scorers before the first run
    assert 800 <= sweep_seconds(results) <= 867 and "867 s of sweep" in OWN


def test_every_link_in_the_readme_and_the_docs_resolves():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            assert target.startswith("http") or (page.parent / target).exists(), (page.name, target)


def running_seconds(results: list[dict], gap: float = 120.0) -> float:
    """The seconds in which some run of a sweep was running: its sittings (a gap of more than ``gap`` s with
    nothing running ends one) added up, so the hours between sessions do not count."""
    import datetime as dt

    spans = sorted((end - r["wall_seconds"], end) for r, end in
                   ((r, dt.datetime.strptime(r["finished"], "%Y-%m-%dT%H:%M:%S%z").timestamp()) for r in results))
    sittings: list[list[float]] = []
    for start, end in spans:
        if sittings and start <= sittings[-1][1] + gap:
            sittings[-1][1] = max(sittings[-1][1], end)
        else:
            sittings.append([start, end])
    return sum(end - start for start, end in sittings)


def test_the_readme_fashion_mnist_sentences_are_its_report():
    import json

    scores = table("fashion-mnist", "scores").set_index(["regularizer", "setting"])
    pairs = table("fashion-mnist", "pairwise")
    d = scores.xs("D", level="setting")
    # at D WGAN-GP has the lowest median, trains every seed, and beats spectral norm and four others
    assert d["fid_median"].idxmin() == "wgan_gp" and d.loc["wgan_gp", "successes"] == 10
    beaten = [b for b in d.index if b != "wgan_gp" and separated_pair(pairs, "D", "wgan_gp", b)
              and pairs[(pairs.setting == "D") & (pairs.a == "wgan_gp") & (pairs.b == b)]["p_a_better"].iloc[0] > 0.5]
    assert "spectral_norm" in beaten and len(beaten) == 5
    assert d.loc["batch_norm", "successes"] == 10 and separated_pair(pairs, "D", "batch_norm", "spectral_norm")
    assert ("WGAN-GP has the lowest median and trains every seed, and it is separated from spectral norm and four "
            "others; batch norm trains every seed too and is separated from spectral norm") in OWN
    findings = table("fashion-mnist", "findings").set_index("finding")["verdict"]
    for finding in ("At high learning rates (settings D, E, F) spectral norm beats WGAN-GP, which fails there.",
                    "Batch norm and layer norm lose to spectral norm at settings D, E and F."):
        assert findings[finding].startswith("not reproduced"), finding
    # at B nothing trains; layer norm and orthonormal have the two lowest medians
    b = scores.xs("B", level="setting")
    assert b["successes"].sum() == 0 and set(b["fid_median"].nsmallest(2).index) == {"layer_norm", "orthonormal"}
    assert "B says which regularizer leaves collapse first (layer norm and orthonormal)" in OWN
    results = [json.loads(p.read_text()) for p in (REPORTS / "fashion-mnist" / "results" / "fashion-mnist").glob("*.json")]
    results = [r for r in results if "run_id" in r]
    assert len(results) == 160 and len({r["environment"]["git_commit"] for r in results}) == 1
    assert {r["environment"]["git_dirty"] for r in results} == {False}
    assert {r["feature_extractor_weights"] for r in results} == {"a4e5fe69ca08aa7e"}
    assert round(running_seconds(results)) == 14271 and "14,271 s of training and scoring in three sittings" in OWN


def test_the_fashion_mnist_caveats_in_the_docs_are_its_results():
    fids = sorted(r["fid"] for r in (json.loads(p.read_text()) for p in
                                     (REPORTS / "fashion-mnist" / "results" / "fashion-mnist").glob("*.json"))
                  if "run_id" in r and r["setting"] == "D")
    assert (round(fids[0]), round(fids[-1])) == (63, 664) and "from 63 to 664 with no gap" in README
    near = [f for f in fids if 0.5 * 200 <= f <= 1.5 * 200]  # around the threshold, where a gap would draw the line
    assert len(near) >= 30 and max(b - a for a, b in zip(near, near[1:])) < 0.1 * 200


def test_the_cost_finding_in_the_docs_is_the_committed_perf_rows():
    perf = (ROOT / "reports" / "perf" / "perf.md").read_text()
    ratios = {}
    for line in perf.splitlines():
        m = re.match(r"\| (regularizer cost|Fashion-MNIST suite's regularizer cost), (\w+) .*\| (\d+\.\d+)x none "
                     r"\((\d+\.\d+)-(\d+\.\d+)\)", line)
        if m:
            ratios[(m.group(1), m.group(2))] = tuple(float(x) for x in m.group(3, 4, 5))
    fashion, paper = "Fashion-MNIST suite's regularizer cost", "regularizer cost"
    assert ratios[(fashion, "spectral_norm")] == (1.16, 1.13, 1.20) and ratios[(paper, "spectral_norm")] == (1.07, 1.06, 1.07)
    assert ratios[(fashion, "wgan_gp")] == (1.96, 1.93, 1.99) and ratios[(paper, "wgan_gp")] == (1.88, 1.79, 1.97)
    for size in (fashion, paper):  # every repetition within the paper's bounds
        assert ratios[(size, "spectral_norm")][2] <= 1.2 and ratios[(size, "wgan_gp")][1] >= 1.3
    assert ("spectral norm costs 1.16x `none` (1.13-1.20 over five repetitions) at the Fashion-MNIST suite's model "
            "and 1.07x (1.06-1.07 over two) at the paper's width, WGAN-GP 1.96x (1.93-1.99) and 1.88x (1.79-1.97)") in README


def test_the_readme_suite_is_a_valid_suite_of_the_runs_it_says():
    import yaml

    from benchmark.suite import YamlLoader, expand, parse_suite

    block = (ROOT / "README.md").read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    suite = parse_suite(yaml.load(block, Loader=YamlLoader), path="README", default_name="readme")
    assert len(expand(suite)) == 4 * 3 * 10 and suite.steps == 600
