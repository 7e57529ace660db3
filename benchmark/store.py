"""Result files: ``results/<suite>/<run_id>.json`` (+ ``.samples.npz``), each written atomically.

A result file exists only once its run has finished: it is written to a temp
file in the same folder and renamed, so a killed process leaves no half file.
"""
from __future__ import annotations

import io
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
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


class DamagedFile(ValueError):
    """A file regbench wrote that cannot be read back (cut short by a crash, a copy, a full disk)."""


DAMAGED = ".damaged"


def warn(message: str) -> None:
    """One line on stderr: what was found and what was done about it (a damaged file, a foreign one)."""
    print(f"regbench: warning: {message}", file=sys.stderr, flush=True)


def move_aside(path: Path) -> Path:
    """Rename a damaged file to ``<name>.damaged`` (``.damaged.1``, ... if taken): out of every reader's way,
    never deleted, so its bytes can still be looked at."""
    path = Path(path)
    target, i = path.with_name(path.name + DAMAGED), 0
    while target.exists():
        i += 1
        target = path.with_name(f"{path.name}{DAMAGED}.{i}")
    os.replace(path, target)
    return target


def read_samples(results_dir: Path, run_id: str) -> np.ndarray | None:
    """A run's sample grid; None when there is none. DamagedFile when the file does not load."""
    path = samples_path(results_dir, run_id)
    if not path.exists():
        return None
    try:
        with np.load(path) as f:
            images = f["images"]
    except Exception as exc:  # a cut zip: BadZipFile, EOFError, ValueError, KeyError, OSError
        raise DamagedFile(f"{path}: does not load ({type(exc).__name__}: {exc})") from None
    return images


@dataclass
class Scan:
    """What a results folder holds: the results that read back whole, the files that are regbench's but
    damaged, and the ``*.json`` files that are not results at all (a colleague's notes)."""
    results: list[dict] = field(default_factory=list)
    damaged: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)
    foreign: list[Path] = field(default_factory=list)

    def warnings(self) -> list[str]:
        return ([f"{p}: damaged result ({why}); left out" for p, why in self.damaged]
                + [f"{p}: not a regbench result; ignored" for p in self.foreign])


def _check(path: Path) -> tuple[str, dict | str]:
    """("ok", result) | ("damaged", why) | ("foreign", "")."""
    try:
        record = json.loads(path.read_bytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return "damaged", f"not valid JSON: {exc}"
    except OSError as exc:
        return "damaged", f"cannot be read: {exc.strerror or exc}"
    if not isinstance(record, dict) or "run_id" not in record:
        return "foreign", ""
    missing = [k for k in REQUIRED_FIELDS if k not in record]
    if missing:
        return "damaged", f"lacks {', '.join(missing)}"
    if record["run_id"] != path.stem:
        return "damaged", f"its run_id {record['run_id']!r} is not its file name"
    if record["status"] not in STATUSES:
        return "damaged", f"status {record['status']!r} is none of {', '.join(STATUSES)}"
    # the instrument is the extractor's name *and* its weights: results written before the field existed
    # carry the hash in their protocol only
    record.setdefault("feature_extractor_weights", (record.get("protocol") or {}).get("feature_extractor_weights_sha256"))
    return "ok", record


def scan_results(results_dir: Path) -> Scan:
    """Every ``*.json`` of a results folder, validated: the one reader that run, report and load_results share,
    so a file that one of them trusts is trusted by all."""
    scan = Scan()
    for path in sorted(Path(results_dir).glob("*.json")) if Path(results_dir).is_dir() else []:
        kind, value = _check(path)
        if kind == "ok":
            scan.results.append(value)
        elif kind == "damaged":
            scan.damaged.append((path, value))
        else:
            scan.foreign.append(path)
    return scan


def read_real_data(results_dir: Path) -> list[dict]:
    out = []
    for p in sorted((Path(results_dir) / REFERENCE_DIR).glob("*.json")):
        try:
            out.append(json.loads(p.read_text()))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # a cut cache of real-data scores: the report's floor row is left out; a rerun rewrites it
    return out


def plan_path(results_dir: Path) -> Path:
    return Path(results_dir) / PLAN_DIR / "plan.json"


def write_plan(results_dir: Path, plan: dict) -> Path:
    return write_json(plan_path(results_dir), plan)


def read_plan(results_dir: Path) -> dict | None:
    """The plan the last sweep recorded; None when there is none or it does not read back (the report then
    cannot list missing runs, and says so; the next `regbench run` rewrites it)."""
    path = plan_path(results_dir)
    try:
        plan = json.loads(path.read_text()) if path.exists() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return plan if isinstance(plan, dict) and isinstance(plan.get("runs", []), list) else None
