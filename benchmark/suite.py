"""Suite YAML -> a checked, frozen ``Suite`` -> the expanded list of ``RunSpec``s (both declared in schema.py).

A sweep is plain data (after compare_gan): the runs are the cross product of the suite's regularizers, settings
and seeds. Every key is checked here, before anything runs, in two steps: ``validate`` (the file alone) and
``resolve`` (plugins, the regularizer registry, the datasets' split sizes). An unknown key, a wrong type or an
unknown name is an error that names the file and the field. ``run_spec`` makes one run without a file.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import Field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from . import paper, search
from .data import split_size
from .errors import shown
from .losses import LOSSES
from .registry import UnknownName
from .regularizers import REGULARIZERS, BadHyperparameter, PluginError, load_plugin_file
from .schema import (FID_REAL, SIMPLE, Evaluation, RegularizerSpec, RunOptions, RunSpec, Setting, Suite,
                     suite_keys)


MAX_SUITE_BYTES = 1 << 20  # the repository's largest suite is 5 KB; a 26 MB one (13M seeds) exhausted memory


class SuiteError(ValueError):
    """A suite that cannot run; the message names the file and the field."""


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's floats: YAML 1.1 reads ``1e-4`` and ``1.0e9`` (no dot, or no sign
    in the exponent) as strings, so ``lr: 1e-4`` would be refused as text."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


# -- validation --------------------------------------------------------------------------------
_RUN_FIELDS = {f.name: f for f in fields(RunSpec)}  # a setting's and a seed's bounds are a run's
_REQUIRED = ("dataset", "regularizers", "settings", "steps")
_OPTIMIZER_KEYS = ("lr", "beta1", "beta2", "n_dis")
_SETTING_KEYS = ("name", *_OPTIMIZER_KEYS)
_SHORT = {"beta1": "b1", "beta2": "b2", "n_dis": "nd"}  # in the names of swept settings


def _type_ok(value: Any, types) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def _names(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


class _Checker:
    def __init__(self, path: str):
        self.path = path

    def fail(self, where: str, msg: str) -> SuiteError:
        return SuiteError(f"{self.path}: {where}: {msg}")

    def mapping(self, value: Any, where: str, allowed) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - set(allowed), key=str)
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}" if where else str(unknown[0]),
                            f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def typed(self, value: Any, where: str, types) -> Any:
        if not _type_ok(value, types):
            raise self.fail(where, f"must be {_names(types)}, got {type(value).__name__} {shown(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(where, f"must be a finite number, got {value}")
        return value

    def value(self, value: Any, where: str, declared: Field) -> Any:
        """``value`` checked against its field's declaration (schema.py): its type, then its bound; an int
        where a float is declared becomes that float."""
        meta = declared.metadata
        self.typed(value, where, meta["types"])
        if value is not None and meta["check"] is not None and not meta["check"](value):
            raise self.fail(where, f"must be {meta['wants']}, got {shown(value)}")
        return float(value) if float in meta["types"] and isinstance(value, int) else value

    def seeds(self, value: Any, where: str) -> tuple[int, ...]:
        """Distinct seeds from 0 to 2^32 - 1: a repeated seed is the same run twice (one id, one file), and
        torch folds a negative seed onto a large one (-1 is 2^64 - 1) and refuses one past 2^64 at run time."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.fail(where, "must be a non-empty list of integers")
        seeds = tuple(self.value(v, f"{where}[{i}]", _RUN_FIELDS["seed"]) for i, v in enumerate(value))
        for i, seed in enumerate(seeds):
            if seed in seeds[:i]:
                raise self.fail(f"{where}[{i}]", f"seed {seed} appears twice (it would be the same run twice)")
        return seeds

    def settings(self, item: Any, where: str) -> list[Setting]:
        """One entry of ``settings``: a named setting, a written-out one, or a ``grid`` / ``random`` search
        space (with an optional ``base`` for the values it does not sweep, and ``steps``)."""
        named = paper.settings()
        if isinstance(item, str):
            if item not in named:
                raise self.fail(where, f"unknown setting {shown(item)}; named settings: {', '.join(named)}")
            return [Setting(name=item, **named[item])]
        if isinstance(item, dict) and ("grid" in item or "random" in item):
            return self.search_settings(item, where)
        entry = self.mapping(item, where, [*_SETTING_KEYS, "base", "steps"])
        return [self.setting(self.based(entry, where), where)]

    def based(self, entry: dict, where: str) -> dict:
        """A setting's values over its ``base``'s, e.g. {name: D-n1, base: D, n_dis: 1}."""
        entry = dict(entry)
        if "base" not in entry:
            return entry
        named = paper.settings()
        base = self.typed(entry.pop("base"), f"{where}.base", str)
        if base not in named:
            raise self.fail(f"{where}.base", f"unknown setting {shown(base)}; named settings: {', '.join(named)}")
        return {**named[base], **entry}

    def search_settings(self, item: dict, where: str) -> list[Setting]:
        kind = "grid" if "grid" in item else "random"
        entry = self.mapping(item, where, (kind, "base", "steps"))
        space = f"{where}.{kind}"
        expand_space = search.grid_points if kind == "grid" else search.random_points
        points = expand_space(entry[kind], space, self.fail, allowed=_OPTIMIZER_KEYS)
        fixed = self.based({k: v for k, v in entry.items() if k != kind}, where)
        out = []
        for i, point in enumerate(points):
            values = {**fixed, **point}
            missing = [k for k in _OPTIMIZER_KEYS if k not in values]
            if missing:
                raise self.fail(f"{space}.{missing[0]}", f"missing: sweep it, or give a base setting "
                                                         f"(base: D) for the values the {kind} does not sweep")
            prefix = "" if kind == "grid" else f"s{entry[kind]['seed']}r{i}_"
            name = prefix + search.point_name({k: values[k] for k in _OPTIMIZER_KEYS}, _SHORT)
            out.append(self.setting({**values, "name": name}, f"{space} ({name})"))
        return out

    def setting(self, entry: dict, where: str) -> Setting:
        """A setting's resolved values, checked."""
        missing = [k for k in _SETTING_KEYS if k not in entry]
        if missing:
            raise self.fail(f"{where}.{missing[0]}", "missing (a setting needs name, lr, beta1, beta2, n_dis, "
                                                     "or name and base)")
        self.typed(entry["name"], f"{where}.name", str)
        for key in _OPTIMIZER_KEYS:
            entry[key] = self.value(entry[key], f"{where}.{key}", _RUN_FIELDS[key])
        steps = entry.get("steps")
        if steps is not None and self.typed(steps, f"{where}.steps", int) < 1:
            raise self.fail(f"{where}.steps", f"must be > 0, got {steps}")
        return Setting(name=entry["name"], steps=steps, **{k: entry[k] for k in _OPTIMIZER_KEYS})

    def plugins(self, value: Any, base_dir: Path) -> tuple[str, ...]:
        """Plugin files, relative to the suite file; each is imported here, so a broken one stops the
        suite before anything runs."""
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("plugins", f"must be a list of file paths, got {shown(value)}")
        out = []
        for i, item in enumerate(value):
            path = (base_dir / item).resolve()
            try:
                load_plugin_file(path)
            except PluginError as exc:
                raise self.fail(f"plugins[{i}]", str(exc)) from None
            out.append(str(path))
        return tuple(out)

    def regularizers(self, item: Any, where: str) -> list[RegularizerSpec]:
        """One entry of ``regularizers``: a name, or a mapping; a ``grid`` or ``random`` space over the
        regularizer's own hyperparameters makes one labelled variant per point (``wgan_gp[gp_lambda=1]``)."""
        if isinstance(item, str):
            item = {"name": item}
        entry = self.mapping(item, where, ("name", "label", "loss", "params", "steps", "grid", "random"))
        name = self.typed(entry.get("name"), f"{where}.name", str)
        try:
            cls = REGULARIZERS.get(name)
        except UnknownName as exc:
            hint = ("" if name in REGULARIZERS.hints else " (a plugin? install its package, or name its file "
                    "under `plugins:` in the suite)")
            raise self.fail(f"{where}.name", f"{exc}{hint}") from None
        label = self.typed(entry.get("label", name), f"{where}.label", str)
        loss = entry.get("loss")
        if loss is not None and loss not in LOSSES:
            raise self.fail(f"{where}.loss", f"unknown loss {shown(loss)}; registered: {', '.join(LOSSES.names())}")
        steps = entry.get("steps")
        if steps is not None and self.typed(steps, f"{where}.steps", int) < 1:
            raise self.fail(f"{where}.steps", f"must be > 0, got {steps}")
        params = self.typed(entry.get("params", {}), f"{where}.params", dict)
        if "grid" in entry and "random" in entry:
            raise self.fail(f"{where}.random", "a regularizer entry takes a grid or a random space, not both")
        variants = [("", {})]  # (label suffix, swept values)
        for kind, expand_space in (("grid", search.grid_points), ("random", search.random_points)):
            if kind in entry:
                if not cls.defaults:
                    raise self.fail(f"{where}.{kind}", f"{name} has no hyperparameters to sweep")
                points = expand_space(entry[kind], f"{where}.{kind}", self.fail, allowed=tuple(sorted(cls.defaults)))
                variants = [(f"[{'' if kind == 'grid' else f'r{i},'}{search.point_name(p)}]", p)
                            for i, p in enumerate(points)]
        out = []
        for suffix, point in variants:
            try:
                resolved = cls.resolve_params({**params, **point})
            except BadHyperparameter as exc:
                field = f"{where}.{'grid' if 'grid' in entry else 'random'}" if point else f"{where}.params"
                raise self.fail(field, str(exc)) from None
            out.append(RegularizerSpec(name=name, label=label + suffix, params=tuple(sorted(resolved.items())),
                                       loss=loss, steps=steps))
        return out

    def evaluation(self, value: Any) -> Evaluation:
        declared = {f.name: f for f in suite_keys(Evaluation)}
        entry = self.mapping(value, "evaluation", declared)
        entry = {key: self.value(v, f"evaluation.{key}", declared[key]) for key, v in entry.items()}
        ev = Evaluation(**entry)
        if ev.is_samples < ev.is_splits:
            raise self.fail("evaluation.is_samples", f"{ev.is_samples} is fewer than is_splits ({ev.is_splits}): each "
                                                     "split needs at least one sample")
        return ev

    def split(self, dataset: str, split: str | None, root: str | None, where: str) -> int | None:
        """The number of images in ``split`` (None when it cannot be known yet); an unknown split is refused."""
        if split is None:
            return None
        try:
            return split_size(dataset, split, root)
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def sample_counts(self, values: dict, given: dict) -> Evaluation:
        """Real-image counts checked against the split they come from, so a result never records more real
        images than were used: fid_real is refused past its split's size, and defaults to min(10,000, size)."""
        ev = values["evaluation"]
        dataset, root = values["dataset"], values.get("data_root")
        train = self.split(dataset, values.get("split", "train"), root, "split")
        batch = values.get("batch_size", Suite.batch_size)
        if train is not None and batch > train:
            raise self.fail("batch_size", f"{batch:,} is more than the {train:,} images of {dataset}'s "
                                          f"{values.get('split', 'train')!r} split it is drawn from; use at most {train}")
        self.split(dataset, ev.real_is_split, root, "evaluation.real_is_split")
        size = self.split(dataset, ev.fid_real_split, root, "evaluation.fid_real_split")
        if size is None:
            return ev
        if "fid_real" not in given:
            return replace(ev, fid_real=min(FID_REAL, size))
        if ev.fid_real > size:
            raise self.fail("evaluation.fid_real", f"{ev.fid_real} is more than the {size:,} images of {dataset}'s "
                                                   f"{ev.fid_real_split!r} split; use at most {size}")
        return ev


def parse_suite(raw: Any, *, path: str, default_name: str, source_sha256: str | None = None,
                base_dir: Path = Path(".")) -> Suite:
    """A suite from its parsed YAML, in two steps: ``validate`` (the file alone: keys, types, bounds, settings,
    seeds; nothing read or imported) and ``resolve`` (what needs more than the file: plugins imported, the
    regularizers looked up with their hyperparameters, the datasets' split sizes). ``expand`` then makes the
    runs, and grouping.make_groups the groups."""
    check = _Checker(path)
    values, top = validate(raw, check, default_name=default_name, path=path, source_sha256=source_sha256)
    return resolve(values, top, check, base_dir)


def validate(raw: Any, check: _Checker, *, default_name: str, path: str, source_sha256: str | None):
    """The checks that need nothing but the file. Returns the checked values and the file's mapping."""
    declared = {f.name: f for f in suite_keys(Suite)}
    top = check.mapping(raw, "", declared)
    for key in _REQUIRED:
        if key not in top:
            raise check.fail(key, "missing (a suite needs dataset, regularizers, settings and steps)")
    values: dict[str, Any] = {"name": default_name, "path": path, "source_sha256": source_sha256}
    for key, value in top.items():
        if declared[key].metadata["yaml"] == SIMPLE:
            values[key] = check.value(value, key, declared[key])
    for key in ("regularizers", "settings"):
        if not isinstance(top[key], list) or not top[key]:
            raise check.fail(key, "must be a non-empty list")
    values["settings"] = _entries(check, top, "settings", check.settings)
    if "seeds" in top:
        values["seeds"] = check.seeds(top["seeds"], "seeds")
    values["evaluation"] = check.evaluation(top.get("evaluation", {}))
    return values, top


def resolve(values: dict, top: dict, check: _Checker, base_dir: Path) -> Suite:
    """The checks that need more than the file, after ``validate``: plugin files imported (before the
    regularizers: they may name what these files register), each regularizer looked up and its hyperparameters
    resolved, the sweep's size bounded, and the real-image counts checked against their splits' sizes."""
    if "plugins" in top:
        values["plugins"] = check.plugins(top["plugins"], base_dir)
    values["regularizers"] = _entries(check, top, "regularizers", check.regularizers)
    runs = len(values["regularizers"]) * len(values["settings"]) * len(values.get("seeds", (0,)))
    if runs > search.MAX_RUNS:
        raise check.fail("settings", f"the suite expands to {runs:,} runs ({len(values['regularizers'])} regularizers "
                                     f"x {len(values['settings'])} settings x {len(values.get('seeds', (0,)))} "
                                     f"seeds), more than {search.MAX_RUNS:,}")
    values["evaluation"] = check.sample_counts(values, top.get("evaluation", {}))
    return Suite(**values)


def _entries(check: _Checker, top: dict, key: str, parse) -> tuple:
    """A list's entries, each parsed into one or more (a grid makes several); a repeated label is refused."""
    out = tuple(v for i, item in enumerate(top[key]) for v in parse(item, f"{key}[{i}]"))
    labels = [getattr(v, "label", getattr(v, "name", None)) for v in out]
    dup = next((n for n in labels if labels.count(n) > 1), None)
    if dup:
        raise check.fail(key, f"{shown(dup)} appears twice; give variants distinct labels")
    return out


def load_suites(path: str | Path) -> list[Suite]:
    """The suites of a file: one per YAML document (``---``); with several, each must have a name."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_SUITE_BYTES:
            raise SuiteError(f"{path}: {path.stat().st_size:,} bytes, more than a suite may have "
                             f"({MAX_SUITE_BYTES:,}); a sweep is written as a grid or a random search, not listed")
        data = path.read_bytes()
        text = data.decode()
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not a text file") from None
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite ({exc.strerror})") from None
    try:
        docs = [d for d in yaml.load_all(text, Loader=YamlLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from None
    if not docs:
        raise SuiteError(f"{path}: empty suite file")
    if len(docs) > 1:
        for i, doc in enumerate(docs):
            if not isinstance(doc, dict) or "name" not in doc:
                raise SuiteError(f"{path}: document {i + 1}: name: missing (a file of several suites names each)")
    suites = [parse_suite(doc, path=str(path) if len(docs) == 1 else f"{path} (document {i + 1})",
                          default_name=path.stem, source_sha256=hashlib.sha256(data).hexdigest()[:16],
                          base_dir=path.parent)
              for i, doc in enumerate(docs)]
    names = [s.name for s in suites]
    if len(set(names)) < len(names):
        raise SuiteError(f"{path}: name: two suites named {next(n for n in names if names.count(n) > 1)!r}")
    return suites


def load_suite(path: str | Path) -> Suite:
    suites = load_suites(path)
    if len(suites) > 1:
        raise SuiteError(f"{path}: holds {len(suites)} suites; expected one")
    return suites[0]


def expand(suite: Suite) -> list[RunSpec]:
    """The cross product regularizers x settings x seeds, in that order. Each run takes the suite's options
    (schema.RunOptions) as they are, but three: its loss (its regularizer entry's, else the regularizer's own,
    else the suite's), its steps (the entry's, else its setting's, else the suite's, capped by --max-steps) and
    its g_batch_size (else batch_size)."""
    options = {f.name: getattr(suite, f.name) for f in fields(RunOptions)}
    runs = []
    for reg in suite.regularizers:
        loss = reg.loss or REGULARIZERS.get(reg.name).loss or suite.loss
        for s in suite.settings:
            for seed in suite.seeds:
                runs.append(RunSpec(
                    **{**options, "loss": loss, "g_batch_size": suite.g_batch_size or suite.batch_size,
                       "steps": min(reg.steps or s.steps or suite.steps, suite.steps_cap or math.inf)},
                    suite=suite.name, suite_sha256=suite.source_sha256, regularizer=reg.name, label=reg.label,
                    params=reg.params, setting=s.name, lr=s.lr, beta1=s.beta1, beta2=s.beta2, n_dis=s.n_dis,
                    seed=seed))
    return runs


def run_spec(regularizer: str | dict = "none", setting: str | dict = "D", *, seed: int = 0, path: str = "run_spec",
             **options) -> RunSpec:
    """One run without a suite file, validated as a suite's would be: ``run_spec("spectral_norm", "D",
    dataset="digits", image_size=8, width=0.125, steps=20)``. ``regularizer`` and ``setting`` take what a
    suite's lists take (a name or a mapping); ``options`` are suite keys; ``path`` names it in error messages."""
    raw = {"regularizers": [regularizer], "settings": [setting], "seeds": [seed], **options}
    specs = expand(parse_suite(raw, path=path, default_name=path))
    if len(specs) != 1:
        raise SuiteError(f"{path}: {len(specs)} runs (a grid or random space?); it makes one")
    return specs[0]


def override(suite: Suite, *, max_steps: int | None = None, samples: int | None = None) -> Suite:
    """A smoke-test copy of a suite: at most ``max_steps`` updates and ``samples`` images per score.

    The changed values enter every run's config (so its id), and the overrides are recorded in every
    result: a shortened run can never pass for a full one.
    """
    if max_steps is None and samples is None:
        return suite
    changes: dict[str, Any] = {}
    if max_steps is not None:
        changes["steps"] = min(suite.steps, max_steps)
        changes["steps_cap"] = max_steps
    if samples is not None:
        ev = suite.evaluation
        counts = {k: min(getattr(ev, k), samples) for k in ("is_samples", "fid_real", "fid_fake", "history_samples")}
        changes["evaluation"] = replace(ev, **counts, is_splits=min(ev.is_splits, counts["is_samples"]))
    recorded = tuple((k, v) for k, v in (("max_steps", max_steps), ("samples", samples)) if v is not None)
    return replace(suite, **changes, overrides=recorded)
