"""A results folder that runs out of space (a full disk, a quota) stops the sweep with one message, keeps what was
written, leaves no partial file, and the next `regbench run` goes on. On a small tmpfs the test mounts (root)."""
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

from benchmark.cli import EXIT_CANNOT_WRITE, main

PAGE = 4096  # tmpfs allocates whole pages


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a folder on a tmpfs of that many bytes, unmounted afterwards."""
    mounted = []

    def mount(size: int) -> Path:
        where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)
        if out.returncode:
            pytest.skip(f"cannot mount a small tmpfs here ({out.stderr.strip() or 'mount failed'}): needs root")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def pages(folder: Path) -> int:
    return sum(-(-p.stat().st_size // PAGE) for p in folder.rglob("*") if p.is_file())


def left_over(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if ".tmp" in p.name]


def test_results_that_no_longer_fit_stop_the_sweep_with_one_message(write_suite, tmp_path, small_disk, capsys):
    suite = write_suite({"regularizers": ["none", "spectral_norm", "weight_norm"], "settings": ["C"]})
    # how much one sweep start and one run take, measured on a roomy disk
    roomy = tmp_path / "roomy"
    assert main(["run", str(write_suite({"regularizers": ["none"], "settings": ["C"]}, name="one")),
                 "--results", str(roomy), "--quiet"]) == 0
    folder = small_disk((pages(roomy / "one") + 1) * PAGE)  # the start and one run, not two
    code = main(["run", str(suite), "--results", str(folder), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_CANNOT_WRITE
    (line,) = [l for l in err.splitlines() if l.startswith("regbench: error:")]
    assert "cannot write" in line and str(folder / "tiny") in line and "No space left on device" in line
    assert "Traceback" not in err
    done = list((folder / "tiny").glob("*.json"))
    assert len(done) == 1 and json.loads(done[0].read_text())["status"] == "ok"  # what fitted is kept, whole
    kept = done[0].read_bytes()
    assert not left_over(folder)
    # every result file has its samples, and no samples file lacks its result
    assert {p.name.split(".")[0] for p in (folder / "tiny").glob("*.samples.npz")} == {p.stem for p in done}
    roomier = small_disk(64 * PAGE)
    shutil.copytree(folder / "tiny", roomier / "tiny")
    assert main(["run", str(suite), "--results", str(roomier), "--quiet"]) == 0
    assert len(list((roomier / "tiny").glob("*.json"))) == 3 and (roomier / "tiny" / done[0].name).read_bytes() == kept


def test_a_checkpoint_that_cannot_be_saved_stops_the_sweep_and_the_previous_one_stays_usable(write_suite, tmp_path,
                                                                                          small_disk):
    suite = write_suite({"regularizers": ["none"], "settings": ["C"], "steps": 600, "batch_size": 64,
                         "log_every": 20, "checkpoint_every": 20})
    folder = small_disk(2 * 1024 * 1024)
    proc = subprocess.Popen([sys.executable, "-m", "benchmark", "run", str(suite), "--results", str(folder),
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoints = folder / "tiny" / "checkpoints"
    deadline = time.time() + 120
    while not list(checkpoints.glob("*.pt")):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.02)
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)  # the disk fills up (a colleague's sweep)
    try:
        while True:
            os.write(fd, b"\0" * PAGE)
    except OSError:
        pass
    finally:
        os.close(fd)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_CANNOT_WRITE, err
    assert "Traceback" not in err and "cannot write" in err and str(checkpoints) in err
    (ckpt,) = checkpoints.glob("*.pt")
    step = torch.load(ckpt, weights_only=False)["step"]  # the previous checkpoint loads
    assert step > 0 and not left_over(folder) and not list((folder / "tiny").glob("*.json"))
    (folder / "filler").unlink()
    assert main(["run", str(suite), "--results", str(folder), "--quiet"]) == 0
    (result,) = [json.loads(p.read_text()) for p in (folder / "tiny").glob("*.json")]
    assert result["status"] == "ok" and result["resumed_from_step"] == step
