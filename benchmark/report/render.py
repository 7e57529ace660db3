"""report.md, report.html, tables/ and figures/ from one or several suites' results folders: the records read
and grouped by instrument, the blocks laid out (layout.py, in words from sentences.py), then written to a
staging folder that replaces the old report in one move.

Everything in a report comes from the result files (and each folder's plan and real-data scores):
no number is written by hand. Runs whose scores are comparable (same dataset, image size,
architecture and feature extractor) are compared in one section, whichever suites they came from.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path


from ..results import NoResults, SuiteResults, load
from ..store import DamagedFile, read_samples, warn
from . import figures
from .comparisons import default_success_fid
from .document import Block, Heading, Text, to_html, to_markdown, write_tables
from .tables import runs_frame
from .layout import group_blocks, instrument_warning, missing_blocks, reproducibility


def _label_order(suites: list[SuiteResults]) -> list[str]:
    order = []
    for s in suites:
        order += [r["regularizer"] for r in (s.plan or {}).get("runs", [])] + [r["regularizer"] for r in s.results]
    return list(dict.fromkeys(order))


def _distinct(records: list[dict]) -> tuple[list[dict], int]:
    """The same run (same run id: same label, setting, seed and resolved config) found in several suites is
    one experiment, shown once; returns the records kept and how many were dropped."""
    seen, out = set(), []
    for r in records:
        if r["run_id"] not in seen:
            seen.add(r["run_id"])
            out.append(r)
    return out, len(records) - len(out)


def _qualified(records: list[dict]) -> list[dict]:
    """A label that several suites use for different runs is one row per suite: "r1 [beyond]" beside "r1 [mine]"."""
    suites_of: dict[str, set] = {}
    for r in records:
        suites_of.setdefault(r["regularizer"], set()).add(r["suite"])
    return [{**r, "regularizer": f"{r['regularizer']} [{r['suite']}]"} if len(suites_of[r["regularizer"]]) > 1 else r
            for r in records]


# one comparison per instrument: a feature extractor is its name *and* its weights (two digits-cnn trained on
# two CPUs are two rulers), so runs scored by different weights never share a cell, a test or a finding
GROUP_KEYS = ("dataset", "image_size", "architecture", "feature_extractor", "feature_extractor_weights")


def _groups(records: list[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(tuple(r.get(k) for k in GROUP_KEYS), []).append(r)
    return groups


GENERATED = {"figures": ("*.png",), "tables": ("*.csv", "*.md", "*.tex")}  # what a report writes in each


def _install(staging: Path, out_dir: Path) -> None:
    """Put a finished report (built in ``staging``, beside ``out_dir``) in place of the previous one: each
    folder and file by a rename, so the previous report stays whole until the new one is complete, and none
    of its figures outlives it to pass for a current one. Files a report does not write (your notes in
    figures/) move over to the new folders."""
    out_dir.mkdir(parents=True, exist_ok=True)
    old = []
    for sub, patterns in GENERATED.items():
        target = out_dir / sub
        if target.is_dir():
            for f in target.iterdir():
                if not any(f.match(p) for p in patterns):
                    os.replace(f, staging / sub / f.name)
            old.append(target.rename(out_dir / f".{sub}.old-{staging.name}"))
        os.replace(staging / sub, target)
    for name in ("report.html", "report.md"):
        os.replace(staging / name, out_dir / name)
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def _success(suites: list[SuiteResults], key: tuple, success_fid: float | None) -> tuple[float | None, str]:
    """The FID below which a run counts as trained: --success-fid, else the suite's ``success_fid`` (recorded
    in its plan), else the default for the dataset and feature extractor (comparisons.SUCCESS_FID)."""
    if success_fid is not None:
        return float(success_fid), "flag"
    for s in suites:
        if (s.plan or {}).get("success_fid") is not None:
            return float(s.plan["success_fid"]), "suite"
    default = default_success_fid(key[0], key[3])
    return default, "default"


def write_report(results_dirs, *, out_dir: Path | None = None, samples_per_setting: bool = False,
                 success_fid: float | None = None) -> Path:
    """Write report.md and report.html (with tables/ and figures/) for one or several results folders;
    returns report.md's path. ``success_fid``: the FID below which a run counts as trained (default: the
    suite's, else the dataset's)."""
    dirs = [Path(results_dirs)] if isinstance(results_dirs, (str, Path)) else [Path(d) for d in results_dirs]
    suites = [load(d) for d in dirs]
    if not any(s.results for s in suites):
        planned = sum(len(s.plan["runs"]) for s in suites if s.plan)
        raise NoResults(f"no result files (*.json) in {', '.join(map(str, dirs))}"
                        + (f" yet ({planned} runs planned)" if planned else ""))
    names = list(dict.fromkeys(s.name for s in suites))
    out_dir = Path(out_dir or Path("reports") / "+".join(names))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # built beside its destination and swapped in whole: a report that fails leaves the previous one as it was
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.report-", dir=out_dir.parent))
    try:
        path = _write(suites, dirs, staging, out_dir=out_dir, samples_per_setting=samples_per_setting,
                      success_fid=success_fid, names=names)
        _install(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / path.name


def _write(suites: list[SuiteResults], dirs: list[Path], staging: Path, *, out_dir: Path,
           samples_per_setting: bool, success_fid: float | None, names: list[str]) -> Path:
    """The report's files, written into ``staging`` (its links relative, so they hold once moved to
    ``out_dir``)."""
    (staging / "figures").mkdir(parents=True, exist_ok=True)
    records, shared = _distinct([r for s in suites for r in s.results])
    records = _qualified(records)
    # the suites' order; a qualified label ("none [beyond]") sits where its plain one would
    rank = {label: i for i, label in enumerate(_label_order(suites))}
    order = sorted(dict.fromkeys(r["regularizer"] for r in records),
                   key=lambda label: rank.get(label.split(" [")[0], len(rank)))
    colour_of = figures.colours(order)
    folder_of = {r["run_id"]: s.folder for s in suites for r in s.results}

    @lru_cache(maxsize=None)  # each file read (and a damaged one named) once
    def samples_of(folder: Path, run_id: str):
        try:
            return read_samples(folder, run_id)
        except DamagedFile as exc:
            warn(f"{exc}; its samples are left out of the report")
            return None

    real = list({json.dumps(x.get("real_data"), sort_keys=True): x for s in suites for x in s.real}.values())
    groups = _groups(records)

    title = f"regbench report: {', '.join(names)}"
    blocks: list[Block] = []
    if shared:
        blocks.append(Text(f"{shared} run{' appears' if shared == 1 else 's appear'} in more than one suite with the same config (the same "
                           "experiment): each is shown once, under the first suite named."))
    if len(groups) > 1:
        blocks.append(Text(f"{len(records)} runs in {len(groups)} comparisons (runs are compared where their "
                           "scores are: same dataset, image size, architecture and feature extractor, the "
                           "extractor's weights included)."))
        blocks += instrument_warning(groups)
    for i, (key, group) in enumerate(groups.items()):
        df = runs_frame(group, order)
        h, prefix = 2, ""
        if len(groups) > 1:
            dataset, size, arch, extractor, weights = key
            # the weights are named where they tell two sections apart (names stay as before otherwise)
            several = sum(k[:4] == key[:4] for k in groups) > 1
            blocks.append(Heading(f"{dataset} {size}px, {arch}, scored with {extractor}"
                                  + (f" (weights {weights})" if several else ""), 2))
            h, prefix = 3, (f"{dataset}-{size}px-{arch}-{extractor}-" + (f"{str(weights)[:8]}-" if several else "")
                            ).replace("/", "_")
        same = [x for x in real if "protocol" not in x or (
            (x["protocol"].get("dataset"), x["protocol"].get("image_size"), x["protocol"].get("feature_extractor"))
            == (key[0], key[1], key[3]) and x["protocol"].get("feature_extractor_weights_sha256") in (None, key[4]))]
        blocks += group_blocks(df, real=same, h=h, prefix=prefix, out_dir=staging, colour_of=colour_of,
                                samples_per_setting=samples_per_setting, success=_success(suites, key, success_fid),
                                sample_source=lambda row: samples_of(folder_of[row["run_id"]], row["run_id"]))
    blocks += missing_blocks(suites)
    command = "regbench report " + " ".join(map(str, dirs)) + f" --out {out_dir}" + (
        " --samples-per-setting" if samples_per_setting else "") + (
        f" --success-fid {success_fid:g}" if success_fid is not None else "")
    blocks += reproducibility(suites, command)

    write_tables(blocks, staging / "tables")
    (staging / "report.html").write_text(to_html(blocks, staging, title=title))
    path = staging / "report.md"
    path.write_text(to_markdown(blocks, staging, title=title))
    return path
