"""Result files: ``results/<suite>/<run_id>.json`` (+ ``.samples.npz``), each written atomically.

A result file exists only once its run has finished: it is written to a temp
file in the same folder and renamed, so a killed process leaves no half file.
"""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import CannotWrite

REQUIRED_FIELDS = ("suite", "run_id", "regularizer", "setting", "lr", "beta1", "beta2", "n_dis", "seed", "steps",
                   "status", "inception_score_mean", "inception_score_std", "fid", "feature_extractor",
                   "sec_per_100_updates", "error")
STATUSES = ("ok", "diverged", "failed")
CHECKPOINT_DIR = "checkpoints"  # training state of unfinished runs, removed when the run's result is written
REFERENCE_DIR = "reference"  # scores of real data, beside the runs (not a run: not matched by *.json)
PLAN_DIR = "plan"  # the suite's grid as last run: the report lists planned runs without a result


def _umask() -> int:
    try:  # Linux says it without changing it
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it 0600; a result is as readable as any file the user writes
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        # a folder that cannot take the file: one message for the user (the sweep stops), not a traceback
        wrapped = CannotWrite.of(path, exc) if isinstance(exc, OSError) else exc
        if wrapped is not exc:
            raise wrapped from None
        raise


def atomic_torch_save(obj, path: Path) -> None:
    """torch.save, atomically: a kill or a concurrent reader never sees half a file."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def result_path(results_dir: Path, run_id: str) -> Path:
    return Path(results_dir) / f"{run_id}.json"


def samples_path(results_dir: Path, run_id: str) -> Path:
    return Path(results_dir) / f"{run_id}.samples.npz"


def finite(value):
    """NaN/inf -> None, recursively: JSON has no NaN, and a missing score must read as missing."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def write_json(path: Path, record: dict) -> Path:
    text = json.dumps(finite(record), indent=2, sort_keys=True, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())
    return path


def write_result(results_dir: Path, result: dict) -> Path:
    missing = [k for k in REQUIRED_FIELDS if k not in result]
    if missing:
        raise ValueError(f"result {result.get('run_id')} lacks {missing}")
    return write_json(result_path(results_dir, result["run_id"]), result)


def write_samples(results_dir: Path, run_id: str, images: np.ndarray) -> Path:
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images)
    path = samples_path(results_dir, run_id)
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_samples(results_dir: Path, run_id: str) -> np.ndarray | None:
    path = samples_path(results_dir, run_id)
    if not path.exists():
        return None
    with np.load(path) as f:
        return f["images"]


def finished_ids(results_dir: Path, *, include_failed: bool = True) -> set[str]:
    if not Path(results_dir).is_dir():
        return set()
    paths = Path(results_dir).glob("*.json")
    if include_failed:
        return {p.stem for p in paths}
    return {p.stem for p in paths if json.loads(p.read_text()).get("status") != "failed"}


def read_results(results_dir: Path) -> list[dict]:
    """Every result in a folder, in file-name order."""
    return [json.loads(path.read_text()) for path in sorted(Path(results_dir).glob("*.json"))]


def read_real_data(results_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(results_dir) / REFERENCE_DIR).glob("*.json"))]


def plan_path(results_dir: Path) -> Path:
    return Path(results_dir) / PLAN_DIR / "plan.json"


def write_plan(results_dir: Path, plan: dict) -> Path:
    return write_json(plan_path(results_dir), plan)


def read_plan(results_dir: Path) -> dict | None:
    path = plan_path(results_dir)
    return json.loads(path.read_text()) if path.exists() else None
