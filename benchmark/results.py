"""Reading results: a folder of result files (with its plan and real-data scores) as ``SuiteResults``, and
as a table for notebooks, ``benchmark.load_results(*results_dirs)``. The report reads folders here too.

``load_results`` flattens each
record into one row: scores, settings, regularizer parameters (``params.<name>``), the scoring protocol
(``protocol.<key>``), timing, status and environment (``environment.<key>``). The training curves stay whole in
one column, ``history`` (a dict of lists), and the traceback of a failed run in ``traceback``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .store import CHECKPOINT_DIR, read_plan, read_real_data, scan_results, warn

COLUMNS = ["regularizer", "setting", "lr", "beta1", "beta2", "n_dis", "seed", "status", "inception_score_mean",
           "inception_score_std", "fid", "kid_mean", "precision", "recall", "sec_per_100_updates", "steps_done",
           "steps", "run_id", "feature_extractor", "feature_extractor_weights"]  # the instrument: name and weights


class NoResults(ValueError):
    pass


@dataclass
class SuiteResults:
    folder: Path
    results: list[dict]
    real: list[dict]
    plan: dict | None
    problems: list[str] = field(default_factory=list)  # damaged and foreign files, each named, left out

    @property
    def name(self) -> str:
        return (self.plan or {}).get("suite") or (self.results[0]["suite"] if self.results else self.folder.name)

    def missing(self) -> list[dict]:
        """Planned runs with no result file yet: *in progress* where their group (plan.json names each run's)
        has a checkpoint, the training under way or stopped; else *not started*."""
        done = {r["run_id"] for r in self.results}
        plan = self.plan or {}
        checkpoint_of = {m: g.get("checkpoint") for g in plan.get("groups", []) for m in g.get("members", [])}
        out = []
        for run in plan.get("runs", []):
            if run["run_id"] not in done:
                name = checkpoint_of.get(run["run_id"], f"{run['run_id']}.pt")  # plans before groups: solo runs
                started = (self.folder / CHECKPOINT_DIR / str(name)).exists()
                out.append({"suite": self.name, **run, "state": "in progress" if started else "not started"})
        return out


def load(folder: Path, *, say=warn) -> SuiteResults:
    """A results folder, read by the validating reader (store.scan_results): a damaged or foreign file is left
    out and named, one line each through ``say``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NoResults(f"{folder} is not a folder of results (run `regbench run SUITE` first)")
    scan = scan_results(folder)
    for line in scan.warnings():
        say(line)
    return SuiteResults(folder, scan.results, read_real_data(folder), read_plan(folder), scan.warnings())


NESTED = ("params", "protocol", "environment", "overrides")  # flattened into <name>.<key> columns
WHOLE = ("history",)  # kept as one object per row


def load_results(*results_dirs: str | Path) -> pd.DataFrame:
    """One row per finished run (ok, diverged or failed) in the given ``results/<suite>`` folders, in file-name
    order per folder, with a ``results_dir`` column. Runs still in progress have no result file, so no row."""
    if not results_dirs:
        raise TypeError("load_results() needs at least one results folder, e.g. load_results('results/default')")
    rows = []
    for folder in results_dirs:
        try:
            suite = load(Path(folder))
        except NoResults as exc:
            raise FileNotFoundError(str(exc)) from None
        for record in suite.results:
            row = {k: v for k, v in record.items() if k not in NESTED}
            for key in NESTED:
                for sub, value in (record.get(key) or {}).items():
                    row[f"{key}.{sub}"] = value
            row["results_dir"] = str(folder)
            rows.append(row)
    df = pd.DataFrame(rows)
    first = [c for c in ["suite", *COLUMNS] if c in df]  # the columns the report's tables use, first
    return df[first + [c for c in df.columns if c not in first]]
