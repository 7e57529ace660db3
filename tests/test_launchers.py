"""Distributed launchers give the same results as the local one (CPU, deterministic, one thread per run)."""
import json

import pytest

from benchmark.cli import main

METRICS = ("inception_score_mean", "inception_score_std", "fid", "status", "steps_done")


def results(folder):
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


@pytest.fixture
def local_results(write_suite, tmp_path):
    suite = write_suite()
    assert main(["run", str(suite), "--results", str(tmp_path / "local"), "--workers", "2", "--quiet"]) == 0
    return suite, results(tmp_path / "local" / "tiny")


def test_ray_matches_local(local_results, tmp_path, assert_logged):
    pytest.importorskip("ray")
    suite, local = local_results
    assert main(["run", str(suite), "--results", str(tmp_path / "ray"), "--launcher", "ray", "--workers", "2",
                 "--quiet", "--tensorboard", str(tmp_path / "tb")]) == 0
    remote = results(tmp_path / "ray" / "tiny")
    assert sorted(remote) == sorted(local) and len(remote) == 4
    for run_id, record in remote.items():
        assert {k: record[k] for k in METRICS} == {k: local[run_id][k] for k in METRICS}, run_id
        assert record["history"]["d_loss"] == local[run_id]["history"]["d_loss"]
        # KID's kernels run in numpy, whose BLAS thread count Ray sets differently: equal to float precision
        assert record["kid_mean"] == pytest.approx(local[run_id]["kid_mean"], rel=1e-6)
        assert_logged(tmp_path / "tb" / "tiny" / run_id, record)  # each Ray task wrote its own TensorBoard run


@pytest.mark.parametrize("executor", ["debug", "local"])
def test_slurm_through_submitit_executors_matches_local(executor, write_suite, tmp_path):
    """submitit's debug executor runs the jobs in this process; its local one as subprocesses, as sbatch would."""
    pytest.importorskip("submitit")
    suite = write_suite()
    assert main(["run", str(suite), "--results", str(tmp_path / "local"), "--quiet"]) == 0
    local = results(tmp_path / "local" / "tiny")
    assert main(["run", str(suite), "--results", str(tmp_path / "slurm"), "--launcher", "slurm",
                 "--slurm-cluster", executor, "--cpus-per-run", "2", "--quiet"]) == 0
    remote = results(tmp_path / "slurm" / "tiny")
    assert sorted(remote) == sorted(local) and len(remote) == 4
    for run_id, record in remote.items():
        assert {k: record[k] for k in METRICS} == {k: local[run_id][k] for k in METRICS}, run_id
    assert (tmp_path / "slurm" / "tiny" / "slurm_logs").is_dir()
