"""Reports from a fixed set of synthetic result files, written here: tables, paper columns, figures, links."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from benchmark.report import write_report
from benchmark.store import REFERENCE_DIR, write_json, write_result, write_samples


def result(reg, setting, *, fid, status="ok", is_mean=6.0, seed=0):
    ok = status == "ok"
    layers = ["features.0", "features.2", "head"]
    return {
        "suite": "synthetic", "run_id": f"{reg}-{setting}-s{seed}", "regularizer": reg, "setting": setting,
        "lr": 1e-4, "beta1": 0.5, "beta2": 0.9, "n_dis": 5, "seed": seed, "steps": 100, "steps_done": 100,
        "status": status, "error": None if ok else "non-finite loss", "dataset": "cifar10", "image_size": 32,
        "architecture": "standard_cnn", "width": 1.0, "feature_extractor": "inception-v3-compat",
        "inception_score_mean": is_mean if ok else None, "inception_score_std": 0.1 if ok else None,
        "fid": fid if ok else None, "kid_mean": 0.01, "sec_per_100_updates": 12.5,
        "history": {"step": [50, 100], "d_loss": [1.0, 0.8], "g_loss": [1.0, 1.2], "sn_layers": layers,
                    "sn_step": [0, 100], "sn": [[2.0, 3.0, 1.5], [1.0, 1.01, 0.99]],
                    "eval_step": [50, 100], "eval": [{"samples": 100, "fid": fid + 10}, {"samples": 100, "fid": fid}]},
    }


@pytest.fixture
def results_dir(tmp_path):
    folder = tmp_path / "results" / "synthetic"
    rows = [result("spectral_norm", "A", fid=30.0), result("spectral_norm", "D", fid=35.0, is_mean=5.0),
            result("wgan_gp", "A", fid=40.0), result("wgan_gp", "D", fid=0, status="diverged")]
    for row in rows:
        write_result(folder, row)
        if row["status"] == "ok":
            write_samples(folder, row["run_id"], np.zeros((16, 3, 32, 32), np.uint8))
    write_json(folder / REFERENCE_DIR / "real.json",
               {"real_data": {"split": "test", "samples": 5000, "inception_score_mean": 11.0,
                              "inception_score_std": 0.1, "fid": 3.0}})
    return folder


def test_tables_paper_columns_figures_and_links(results_dir, tmp_path):
    out = tmp_path / "report"
    md = write_report(results_dir, out_dir=out).read_text()
    best = pd.read_csv(out / "tables" / "best.csv")
    assert list(best["regularizer"])[0].startswith("real data")
    sn = best[best["regularizer"] == "spectral_norm"].iloc[0]
    assert float(sn["best FID (inception-v3-compat)"]) == 30.0 and sn["FID setting"] == "A"
    assert sn["paper IS"] == "7.42 ± 0.08" and float(sn["paper FID"]) == 29.3  # Table 2, CIFAR-10, standard CNN
    assert best.iloc[0]["paper IS"] == "11.24 ± 0.12"  # the paper's real-data row
    runs = pd.read_csv(out / "tables" / "runs.csv")
    assert (runs["status"] == "diverged").sum() == 1 and len(runs) == 4
    sn_table = pd.read_csv(out / "tables" / "spectral_norms.csv")
    assert set(sn_table["regularizer"]) == {"spectral_norm", "wgan_gp"}
    for name in ("is_per_setting", "fid_per_setting", "time_per_100_updates", "samples", "fid_over_training",
                 "d_loss_over_training", "spectral_norms"):
        assert f"figures/{name}.png" in md
    for link in re.findall(r"\]\(([^)]+)\)", md):
        assert (out / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "paper" in md and "Miyato" in md


def test_digits_reports_have_no_paper_columns(results_dir, tmp_path):
    for path in results_dir.glob("*.json"):
        data = json.loads(path.read_text())
        data["feature_extractor"] = "digits-cnn"
        path.write_text(json.dumps(data))
    write_report(results_dir, out_dir=tmp_path / "r")
    assert "paper IS" not in pd.read_csv(tmp_path / "r" / "tables" / "best.csv").columns


def test_several_seeds_give_mean_and_std_over_seeds(tmp_path):
    folder = tmp_path / "results" / "seeds"
    for seed, (is_mean, fid) in enumerate([(6.0, 30.0), (6.2, 32.0), (6.4, 34.0)]):
        row = result("spectral_norm", "A", fid=fid, is_mean=is_mean, seed=seed)
        write_result(folder, {**row, "suite": "seeds"})
    write_report(folder, out_dir=tmp_path / "r")
    best = pd.read_csv(tmp_path / "r" / "tables" / "best.csv")
    sn = best[best["regularizer"] == "spectral_norm"].iloc[0]
    assert sn["best IS (inception-v3-compat)"] == "6.20 ± 0.20 (3 seeds)"
    assert sn["best FID (inception-v3-compat)"] == "32.00 ± 2.00 (3 seeds)"
    assert sn["runs"] == 3
