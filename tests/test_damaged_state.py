"""A results folder that holds a cut result, a cut samples file or a foreign JSON never costs a result or a
report: run moves the damaged file aside and redoes its run, report and load_results name and skip it, and a
report that fails leaves the previous one exactly as it was."""
import hashlib
import json
import os

import pytest

from benchmark import load_results
from benchmark.cli import main
from benchmark.report import figures, write_report


@pytest.fixture
def swept(write_suite, tmp_path):
    """A finished tiny sweep (2 regularizers x 2 settings, one seed)."""
    suite = write_suite()
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0
    return suite, tmp_path / "results" / "tiny"


def cut(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return data[: len(data) // 2]


def digest(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_cut_result_is_moved_aside_and_its_run_redone(swept, tmp_path, capsys):
    suite, folder = swept
    victim = sorted(folder.glob("*.json"))[0]
    half = cut(victim)
    capsys.readouterr()
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert f"{victim}: damaged result (not valid JSON" in out.err and "its run is redone" in out.err
    assert "1 runs done" in out.out and "3 already finished" in out.out
    assert json.loads(victim.read_text())["status"] == "ok"  # redone
    assert (folder / (victim.name + ".damaged")).read_bytes() == half  # kept, never deleted


def test_report_and_load_results_name_and_skip_damaged_and_foreign_files(swept, tmp_path, capsys):
    _, folder = swept
    victim = sorted(folder.glob("*.json"))[0]
    cut(victim)
    (folder / "notes.json").write_text(json.dumps({"hello": 1}))
    capsys.readouterr()
    assert main(["report", str(folder), "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert f"{victim}: damaged result" in err and f"{folder / 'notes.json'}: not a regbench result; ignored" in err
    assert "Traceback" not in err
    md = (tmp_path / "r" / "report.md").read_text()
    assert "2 files left out" in md and "3 runs" in md
    df = load_results(folder)
    assert len(df) == 3 and df["run_id"].notna().all()  # no row of NaN for the foreign file
    for path in folder.glob("*.json"):
        path.write_text("{")
    assert main(["report", str(folder), "--out", str(tmp_path / "r2")]) == 2  # nothing readable remains


def test_a_cut_samples_file_is_named_in_the_report_and_redone_by_run(swept, tmp_path, capsys):
    suite, folder = swept
    victims = sorted(folder.glob("*.samples.npz"))
    for victim in victims:  # every one: the report reads those of each regularizer's best run
        cut(victim)
    capsys.readouterr()
    assert main(["report", str(folder), "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert err.count("does not load") == 2 and "its samples are left out of the report" in err  # 2 regularizers
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert out.err.count("its run is redone") == 4 and "4 runs done" in out.out
    victim = victims[0]
    assert (folder / (victim.name + ".damaged")).exists()
    import numpy as np
    with np.load(victim) as f:
        assert f["images"].shape[0] > 0  # whole again


def test_a_report_that_fails_halfway_leaves_the_previous_one_byte_identical(swept, tmp_path, monkeypatch):
    _, folder = swept
    out = tmp_path / "report"
    write_report(folder, out_dir=out)
    (out / "figures" / "my-notes.txt").write_text("mine")
    before = digest(out)

    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(figures, "budget_curves", broken)  # after the first figures and tables are written
    with pytest.raises(RuntimeError, match="figure failed"):
        write_report(folder, out_dir=out)
    assert digest(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []  # no staging left
    monkeypatch.undo()
    write_report(folder, out_dir=out)
    assert (out / "figures" / "my-notes.txt").read_text() == "mine"  # a file the report does not write stays


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere; the permission cannot be taken away")
def test_an_unwritable_out_is_one_message(swept, tmp_path, capsys):
    _, folder = swept
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["report", str(folder), "--out", str(locked / "r")]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert "cannot write the report in" in err and "Traceback" not in err


def test_an_out_that_is_a_file_is_one_message(swept, tmp_path, capsys):
    _, folder = swept
    (tmp_path / "afile").write_text("x")
    assert main(["report", str(folder), "--out", str(tmp_path / "afile" / "r")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the report in" in err and "Traceback" not in err


def test_an_unwritable_tensorboard_folder_stops_the_sweep_and_records_no_failed_run(write_suite, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    suite = write_suite()
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--tensorboard",
                 str(tmp_path / "afile" / "tb"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--tensorboard" in err and "cannot write TensorBoard logs" in err and "Traceback" not in err
    assert not list((tmp_path / "results").glob("*/*.json"))  # no result (the plan and real-data scores are not)
    # one that fails only inside the run (it passed the check, then could not be written): no failed result
    from benchmark.errors import LogUnwritable
    from benchmark.launch import run_suite
    from benchmark.suite import load_suite
    import dataclasses
    blocked = dataclasses.replace(load_suite(suite), tensorboard=str(tmp_path / "afile" / "tb"))
    with pytest.raises(LogUnwritable, match="cannot write TensorBoard logs"):
        run_suite(blocked, results_root=tmp_path / "results", progress=False)
    assert not list((tmp_path / "results").glob("*/*.json"))  # no result (the plan and real-data scores are not)
    assert main(["run", str(suite), "--results", str(tmp_path / "results"), "--quiet"]) == 0  # all 4 run now
    assert "4 runs done" in capsys.readouterr().out


def test_results_naming_a_file_is_one_message(write_suite, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["run", str(write_suite()), "--results", str(tmp_path / "afile"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--results" in err and "cannot write results there" in err and "Traceback" not in err


def test_a_failed_run_is_explained_on_the_console(misbehaving_regularizers, write_suite, tmp_path, capsys):
    suite = write_suite({"regularizers": ["none", "test_raises"], "settings": ["C"]})
    for quiet in (["--quiet"], []):
        assert main(["run", str(suite), "--results", str(tmp_path / f"r{len(quiet)}"), *quiet]) == 1
        out = capsys.readouterr().out
        (trace,) = (tmp_path / f"r{len(quiet)}" / "tiny").glob("*.traceback.txt")
        assert "1 failed" in out and f"failed: {trace.name.split('.')[0]}: RuntimeError: boom in after_d_step" in out
        assert f"traceback: {trace}" in out
