"""Watching runs in TensorBoard (`--tensorboard DIR`), reading results from Python (`benchmark.load_results`), and
result files that other people can read (the umask, not mkstemp's 0600)."""
import json
import math
import os
import subprocess
import sys

import pytest

from benchmark import load_results
from benchmark.cli import main

from conftest import tensorboard_events as events, tensorboard_scalars as scalars

pytest.importorskip("tensorboard")




def test_tensorboard_logs_what_the_result_records(write_suite, tmp_path):
    suite = write_suite({"regularizers": ["spectral_norm"], "settings": ["C"], "steps": 20, "log_every": 5,
                         "track_sn_every": 10, "evaluation": {"is_samples": 100, "is_splits": 2, "fid_real": 200,
                                                              "fid_fake": 100, "sample_grid": 16, "history_every": 10,
                                                              "history_samples": 100}})
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet",
                 "--tensorboard", str(tmp_path / "tb")]) == 0
    (path,) = (tmp_path / "results" / "tiny").glob("*.json")
    record = json.loads(path.read_text())
    run_dir = tmp_path / "tb" / "tiny" / record["run_id"]
    acc = events(run_dir)
    hist = record["history"]
    assert [s for s, _ in scalars(acc, "loss/D")] == hist["step"] == [5, 10, 15, 20]
    for (_, logged), kept in zip(scalars(acc, "loss/D") + scalars(acc, "loss/G"), hist["d_loss"] + hist["g_loss"]):
        assert logged == pytest.approx(kept, rel=1e-6)
    assert scalars(acc, "time/sec_per_100_updates")[-1][1] == pytest.approx(record["sec_per_100_updates"], rel=1e-6)
    layers = hist["sn_layers"]
    assert {f"spectral_norm/{name}" for name in layers} <= set(acc.Tags()["scalars"])
    assert [s for s, _ in scalars(acc, f"spectral_norm/{layers[0]}")] == hist["sn_step"] == [0, 10, 20]
    fids = scalars(acc, "eval/fid")
    assert [s for s, _ in fids] == hist["eval_step"] == [10, 20]
    assert [v for _, v in fids] == pytest.approx([e["fid"] for e in hist["eval"]], rel=1e-6)
    assert [e.step for e in acc.Images("samples")] == [10, 20]
    assert scalars(acc, "final/fid")[0][1] == pytest.approx(record["fid"], rel=1e-6)
    assert scalars(acc, "final/inception_score")[0][1] == pytest.approx(record["inception_score_mean"], rel=1e-6)
    # the HParams dashboard's session: the run's hyperparameters, so a sweep's runs line up side by side
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    hparams = {k: v.ListFields()[0][1] for k, v in start.hparams.items()}
    assert hparams["regularizer"] == "spectral_norm" and hparams["setting"] == "C" and hparams["n_dis"] == 1
    assert hparams["lr"] == pytest.approx(record["lr"]) and hparams["param/power_iterations"] == 1


def test_no_tensorboard_folder_unless_asked(write_suite, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(write_suite({"settings": ["C"]})), "--results", "results", "--quiet"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "tiny.yaml"]


def test_load_results_gives_one_flat_row_per_run_whatever_its_status(misbehaving_regularizers, write_suite, tmp_path):
    suite = write_suite({"regularizers": ["spectral_norm", "test_nan_penalty", "test_raises"], "settings": ["C"]})
    assert main(["run", str(suite), "--results", str(tmp_path), "--quiet"]) == 1  # a failed run
    df = load_results(tmp_path / "tiny")
    assert len(df) == 3
    by = df.set_index("regularizer")
    assert by.loc["spectral_norm", "status"] == "ok" and math.isfinite(by.loc["spectral_norm", "fid"])
    assert by.loc["test_nan_penalty", "status"] == "diverged" and math.isnan(by.loc["test_nan_penalty", "fid"])
    assert by.loc["test_raises", "status"] == "failed" and "boom" in by.loc["test_raises", "error"]
    # nested fields flattened; the curves whole; every result field there
    assert by.loc["spectral_norm", "params.power_iterations"] == 1
    assert by.loc["spectral_norm", "protocol.fid_real"] == 200 and "environment.torch" in df
    assert isinstance(by.loc["spectral_norm", "history"], dict)
    record = json.loads(next((tmp_path / "tiny").glob("spectral_norm-*.json")).read_text())
    assert {k for k in record if k not in ("params", "protocol", "environment", "overrides")} <= set(df.columns)
    assert list(df.columns[:3]) == ["suite", "regularizer", "setting"]
    with pytest.raises(FileNotFoundError, match="is not a folder of results"):
        load_results(tmp_path / "nope")


def test_the_readme_one_liner_works(write_suite, tmp_path):
    assert main(["run", str(write_suite({"settings": ["C"]})), "--results", str(tmp_path), "--quiet"]) == 0
    out = subprocess.run([sys.executable, "-c", f"from benchmark import load_results; "
                          f"print(load_results({str(tmp_path / 'tiny')!r}).shape)"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows, cols = eval(out.stdout)
    assert rows == 2 and cols > 40


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_result_files_get_the_permissions_a_normal_write_would(write_suite, tmp_path, umask, mode):
    suite = write_suite({"settings": ["C"], "regularizers": ["none"], "checkpoint_every": 2})
    previous = os.umask(umask)
    try:
        assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0
    finally:
        os.umask(previous)
    written = [p for p in (tmp_path / "results").rglob("*") if p.is_file() and p.name != ".regbench.lock"]
    assert {p.suffix for p in written} >= {".json", ".npz"}
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {oct(mode)}
