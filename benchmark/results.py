"""Results as a table, for notebooks: ``benchmark.load_results(*results_dirs)``.

The report reads result folders with the same reader (store.scan_results, through report.render.load); this flattens each
record into one row: scores, settings, regularizer parameters (``params.<name>``), the scoring protocol
(``protocol.<key>``), timing, status and environment (``environment.<key>``). The training curves stay whole in
one column, ``history`` (a dict of lists), and the traceback of a failed run in ``traceback``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .report.render import NoResults, load
from .report.tables import COLUMNS

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
