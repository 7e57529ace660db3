"""Suite YAML -> validated, frozen specs -> the expanded list of runs.

A sweep is plain data (after compare_gan): the runs are the cross product of
the suite's regularizers, settings and seeds. Every key is checked here, before
anything runs: an unknown key, a wrong type or an unknown name is an error that
names the file and the field.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from . import paper, search
from .data import DATASETS, split_size
from .errors import shown
from .latent import LATENTS
from .losses import LOSSES
from .models import ARCHITECTURES, INITS
from .registry import UnknownName
from .regularizers import REGULARIZERS, BadHyperparameter, PluginError, load_plugin_file


KID_SUBSETS = 100  # torch-fidelity's default
PRC_NEIGHBORHOOD = 3  # likewise
FID_REAL = 10000  # the paper's reference size, when a suite does not say (capped at the split's size)
# Upper bounds of sizes: past them a run cannot allocate its model or features on any machine we know of,
# so they are refused before anything runs instead of failing every run
MAX_WIDTH = 16.0  # x the paper's channel counts (D's last conv: 8,192 channels)
MAX_IMAGE_SIZE = 256
MAX_BATCH = 8192
MAX_Z_DIM = 8192
MAX_SAMPLES = 200_000  # per score: 200K x 2,048 Inception features are 1.6 GB
MAX_N_DIS = 100
MAX_LR = 1.0
MAX_SEED = 2 ** 32 - 1
MAX_FUSE = 256
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


@dataclass(frozen=True)
class Evaluation:
    is_samples: int = 5000
    is_splits: int = 10
    fid_real_split: str = "train"
    fid_real: int = FID_REAL  # a suite that omits it gets min(10,000, the split's size); more is refused
    fid_fake: int = 5000
    batch_size: int = 256
    sample_grid: int = 64  # images saved per run for the report's sample grids
    history_every: int = 0  # IS/FID over training, every N updates (0: only at the end)
    history_samples: int = 1000  # generated images for each of those (IS and FID alike)
    kid_subsets: int = KID_SUBSETS  # torch-fidelity's 100; each costs three kernel matrices in numpy
    # precision and recall (Kynkaanniemi et al. 2019) on FID's features: a sample counts when it falls inside
    # the k-th-nearest-neighbour ball of a point of the other set; torch-fidelity's and the paper's k = 3
    prc_neighborhood: int = PRC_NEIGHBORHOOD
    # the split whose images give the "real data" row's IS (None: the split held out from the FID reference);
    # the paper's 11.24 for CIFAR-10 is the IS of its 50,000 training images
    real_is_split: str | None = None


@dataclass(frozen=True)
class Setting:
    name: str
    lr: float
    beta1: float
    beta2: float
    n_dis: int
    steps: int | None = None  # overrides the suite's steps: low learning rates need more updates than high ones


@dataclass(frozen=True)
class RegularizerSpec:
    name: str
    label: str  # the row name in reports; differs from name for variants such as a hinge-loss SN
    params: tuple[tuple[str, Any], ...] = ()
    loss: str | None = None  # overrides both the regularizer's and the suite's loss
    steps: int | None = None  # overrides the suite's steps (the paper's "2x updates" rows)


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    dataset: str
    regularizers: tuple[RegularizerSpec, ...]
    settings: tuple[Setting, ...]
    steps: int
    data_root: str | None = None
    split: str = "train"
    image_size: int = 32
    architecture: str = "standard_cnn"
    width: float = 1.0
    z_dim: int = 128
    loss: str = "standard"
    seeds: tuple[int, ...] = (0,)
    batch_size: int = 64
    # the training protocol (docs/protocol.md): each defaults to the authors' choice for the paper's CNN
    init: str = "paper"  # paper: the authors' weight init for the architecture; torch: PyTorch's defaults
    latent: str = "normal"  # z ~ N(0, I) (the paper's Table 3) or U(-1, 1) (the authors' SN-DCGAN code)
    d_passes: str = "separate"  # D on real and on fake: two forwards (the authors' updater) or one joint batch
    lr_decay: str = "none"  # linear: lr falls linearly to 0 over the run (the authors' ResNet runs)
    g_batch_size: int | None = None  # z per G update (None: batch_size); the authors' ResNets use 128
    log_every: int = 50
    track_sn_every: int = 1000  # record each D layer's spectral norm every N updates (and at the end)
    checkpoint_every: int = 0  # save the training state every N updates (0: never); resumed on rerun
    device: str = "auto"
    # GPU speed switches, off by default so times and scores stay comparable with the paper's; each is
    # part of a run's config (so its id) when on, and recorded in its result
    compile: bool = False  # torch.compile D and G
    bf16: bool = False  # bf16 autocast for D and G forwards
    channels_last: bool = False  # NHWC memory layout for the convs
    evaluation: Evaluation = field(default_factory=Evaluation)
    overrides: tuple[tuple[str, int], ...] = ()  # --max-steps/--samples: recorded in every result
    steps_cap: int | None = None  # --max-steps, applied to per-regularizer steps too
    cpus_per_run: float = 1.0  # what a ray/slurm launcher reserves per run (flags override)
    gpus_per_run: float = 0.0  # fractions share a GPU between runs (ray)
    source_sha256: str | None = None  # of the suite file's bytes: the report's reproducibility section
    plugins: tuple[str, ...] = ()  # regularizer plugin files (absolute), loaded again in every worker
    tensorboard: str | None = None  # a folder: each run logs its curves, scores and samples to <it>/<suite>/<run_id>
    success_fid: float | None = None  # the report's "trained" threshold (None: the dataset's default); not a run's
    # the most runs trained as one fused group (1: every run alone; auto: per group, where it pays, see
    # fusing.py); not part of a run's config
    fuse: int | str = "auto"


@dataclass(frozen=True)
class RunSpec:
    """One fully resolved run: everything train.py and metrics.py need, nothing else."""

    suite: str
    dataset: str
    data_root: str | None
    split: str
    image_size: int
    architecture: str
    width: float
    z_dim: int
    loss: str
    regularizer: str
    label: str
    params: tuple[tuple[str, Any], ...]
    setting: str
    lr: float
    beta1: float
    beta2: float
    n_dis: int
    seed: int
    steps: int
    batch_size: int
    g_batch_size: int
    init: str
    latent: str
    d_passes: str
    lr_decay: str
    log_every: int
    track_sn_every: int
    checkpoint_every: int
    device: str
    evaluation: Evaluation
    compile: bool = False
    bf16: bool = False
    channels_last: bool = False
    overrides: tuple[tuple[str, int], ...] = ()
    suite_sha256: str | None = None
    plugins: tuple[str, ...] = ()
    tensorboard: str | None = None

    def config(self) -> dict:
        """What defines the run's outcome: hashed into its id. Paths, devices, names and how often the run
        is logged, probed or checkpointed (none of which changes its numbers) are not in it."""
        out = asdict(self)
        for key in ("suite", "data_root", "device", "label", "setting", "log_every", "track_sn_every",
                    "checkpoint_every", "overrides", "suite_sha256", "plugins", "tensorboard"):
            out.pop(key)
        for key in SPEED_SWITCHES:  # only when on: the ids of runs from before these switches existed stay
            if not out[key]:
                out.pop(key)
        for key, default in (("kid_subsets", KID_SUBSETS), ("prc_neighborhood", PRC_NEIGHBORHOOD)):  # likewise
            if out["evaluation"][key] == default:
                out["evaluation"].pop(key)
        out["evaluation"].pop("real_is_split")  # it scores real data, not the run
        return out

    @property
    def config_hash(self) -> str:
        blob = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    @property
    def run_id(self) -> str:
        return f"{self.label}-{self.setting}-s{self.seed}-{self.config_hash}"


# -- validation --------------------------------------------------------------------------------
D_PASSES = ("separate", "joint")
LR_DECAYS = ("none", "linear")
_SIMPLE = {  # key -> (accepted types, check, what the check wants)
    "name": (str, lambda v: bool(v.strip()), "a non-empty name"),
    "dataset": (str, lambda v: v in DATASETS, "a registered dataset"),
    "data_root": ((str, type(None)), lambda v: True, ""),
    "split": (str, lambda v: bool(v), "a split name"),
    "image_size": (int, lambda v: 8 <= v <= MAX_IMAGE_SIZE and v % 8 == 0,
                   f"a multiple of 8 from 8 to {MAX_IMAGE_SIZE} (8, 16, 32, 48)"),
    "architecture": (str, lambda v: v in ARCHITECTURES, "a registered architecture"),
    "width": ((float, int), lambda v: 0 < v <= MAX_WIDTH, f"> 0 and at most {MAX_WIDTH:g} (x the paper's channels)"),
    "z_dim": (int, lambda v: 0 < v <= MAX_Z_DIM, f"from 1 to {MAX_Z_DIM}"),
    "loss": (str, lambda v: v in LOSSES, "a registered loss"),
    "steps": (int, lambda v: v > 0, "> 0"),
    # batch norm (in every G, and in D's batch_norm) needs more than one value per channel
    "batch_size": (int, lambda v: 2 <= v <= MAX_BATCH, f"from 2 to {MAX_BATCH} (batch norm needs 2 or more)"),
    "g_batch_size": ((int, type(None)), lambda v: 2 <= v <= MAX_BATCH,
                     f"from 2 to {MAX_BATCH} (or null: batch_size; batch norm needs 2 or more)"),
    "init": (str, lambda v: v in INITS, f"one of {', '.join(INITS)}"),
    "latent": (str, lambda v: v in LATENTS, f"one of {', '.join(LATENTS)}"),
    "d_passes": (str, lambda v: v in D_PASSES, f"one of {', '.join(D_PASSES)}"),
    "lr_decay": (str, lambda v: v in LR_DECAYS, f"one of {', '.join(LR_DECAYS)}"),
    "log_every": (int, lambda v: v > 0, "> 0"),
    "track_sn_every": (int, lambda v: v > 0, "> 0"),
    "checkpoint_every": (int, lambda v: v >= 0, ">= 0 (0: no checkpoints)"),
    "cpus_per_run": ((float, int), lambda v: v > 0, "> 0"),
    "gpus_per_run": ((float, int), lambda v: v >= 0, ">= 0"),
    "device": (str, lambda v: v == "auto" or v == "cpu" or v.startswith("cuda"), "auto, cpu or cuda[:N]"),
    "compile": (bool, lambda v: True, ""),
    "bf16": (bool, lambda v: True, ""),
    "channels_last": (bool, lambda v: True, ""),
    "tensorboard": ((str, type(None)), lambda v: bool(v.strip()), "a folder for TensorBoard logs (or null: none)"),
    "fuse": ((int, str), lambda v: v == "auto" if isinstance(v, str) else 1 <= v <= MAX_FUSE,
             f"auto (fuse where it pays), or from 1 (every run alone) to {MAX_FUSE} runs per fused group"),
    "success_fid": ((float, int, type(None)), lambda v: math.isfinite(v) and v > 0,
                    "a finite FID > 0 below which the report counts a run as trained (or null: the dataset's default)"),
}
# evaluation key -> (least, most); None: no upper bound. fid_real is also checked against its split's size
_EVAL_BOUNDS = {"is_samples": (1, MAX_SAMPLES), "is_splits": (1, MAX_SAMPLES), "fid_real": (1, MAX_SAMPLES),
                "fid_fake": (1, MAX_SAMPLES), "batch_size": (1, MAX_BATCH), "sample_grid": (1, 1024),
                "history_every": (0, None), "history_samples": (1, MAX_SAMPLES), "kid_subsets": (1, 10000),
                "prc_neighborhood": (1, 1000)}
_EVAL_SPLITS = ("fid_real_split", "real_is_split")
SPEED_SWITCHES = ("compile", "bf16", "channels_last")
_REQUIRED = ("dataset", "regularizers", "settings", "steps")
_SETTING_KEYS = {"name": str, "lr": (float, int), "beta1": (float, int), "beta2": (float, int), "n_dis": int}
_OPTIMIZER_KEYS = ("lr", "beta1", "beta2", "n_dis")
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

    def seeds(self, value: Any, where: str) -> tuple[int, ...]:
        """Distinct seeds from 0 to 2^32 - 1: a repeated seed is the same run twice (one id, one file), and
        torch folds a negative seed onto a large one (-1 is 2^64 - 1) and refuses one past 2^64 at run time."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.fail(where, "must be a non-empty list of integers")
        seeds = tuple(self.typed(v, f"{where}[{i}]", int) for i, v in enumerate(value))
        for i, seed in enumerate(seeds):
            if not 0 <= seed <= MAX_SEED:
                raise self.fail(f"{where}[{i}]", f"must be from 0 to {MAX_SEED:,} (2^32 - 1), got {shown(seed)}")
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
        for key, types in _SETTING_KEYS.items():
            self.typed(entry[key], f"{where}.{key}", types)
        if not 0 < entry["lr"] <= MAX_LR:
            raise self.fail(f"{where}.lr", f"must be > 0 and at most {MAX_LR:g}, got {entry['lr']}")
        for key in ("beta1", "beta2"):
            if not 0 <= entry[key] < 1:
                raise self.fail(f"{where}.{key}", f"must be in [0, 1), got {entry[key]}")
        if not 1 <= entry["n_dis"] <= MAX_N_DIS:
            raise self.fail(f"{where}.n_dis", f"must be from 1 to {MAX_N_DIS}, got {entry['n_dis']}")
        steps = entry.get("steps")
        if steps is not None and self.typed(steps, f"{where}.steps", int) < 1:
            raise self.fail(f"{where}.steps", f"must be > 0, got {steps}")
        return Setting(name=entry["name"], lr=float(entry["lr"]), beta1=float(entry["beta1"]),
                       beta2=float(entry["beta2"]), n_dis=entry["n_dis"], steps=steps)

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
        entry = self.mapping(value, "evaluation", [f.name for f in fields(Evaluation)])
        for key, v in entry.items():
            if key in _EVAL_SPLITS:
                self.typed(v, f"evaluation.{key}", (str, type(None)) if key == "real_is_split" else str)
                continue
            least, most = _EVAL_BOUNDS[key]
            if not least <= self.typed(v, f"evaluation.{key}", int) <= (most or math.inf):
                raise self.fail(f"evaluation.{key}", f"must be >= {least}" + (f" and at most {most:,}" if most else "")
                                + f", got {v}")
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
    check = _Checker(path)
    internal = ("path", "overrides", "steps_cap", "source_sha256")
    top = check.mapping(raw, "", [f.name for f in fields(Suite) if f.name not in internal])
    for key in _REQUIRED:
        if key not in top:
            raise check.fail(key, "missing (a suite needs dataset, regularizers, settings and steps)")
    values: dict[str, Any] = {"name": default_name, "path": path, "source_sha256": source_sha256}
    for key, value in top.items():
        if key in _SIMPLE:
            types, ok, wants = _SIMPLE[key]
            check.typed(value, key, types)
            if value is not None and not ok(value):
                raise check.fail(key, f"must be {wants}, got {shown(value)}")
            values[key] = float(value) if key in ("width", "cpus_per_run", "gpus_per_run", "success_fid") and \
                value is not None else value
    if "plugins" in top:  # before the regularizers: they may name what these files register
        values["plugins"] = check.plugins(top["plugins"], base_dir)
    for key, parse in (("regularizers", check.regularizers), ("settings", check.settings)):
        items = top[key]
        if not isinstance(items, list) or not items:
            raise check.fail(key, "must be a non-empty list")
        values[key] = tuple(v for i, item in enumerate(items) for v in parse(item, f"{key}[{i}]"))
        labels = [getattr(v, "label", getattr(v, "name", None)) for v in values[key]]
        dup = next((n for n in labels if labels.count(n) > 1), None)
        if dup:
            raise check.fail(key, f"{shown(dup)} appears twice; give variants distinct labels")
    if "seeds" in top:
        values["seeds"] = check.seeds(top["seeds"], "seeds")
    runs = len(values["regularizers"]) * len(values["settings"]) * len(values.get("seeds", (0,)))
    if runs > search.MAX_RUNS:
        raise check.fail("settings", f"the suite expands to {runs:,} runs ({len(values['regularizers'])} regularizers "
                                     f"x {len(values['settings'])} settings x {len(values.get('seeds', (0,)))} "
                                     f"seeds), more than {search.MAX_RUNS:,}")
    values["evaluation"] = check.evaluation(top.get("evaluation", {}))
    values["evaluation"] = check.sample_counts(values, top.get("evaluation", {}))
    return Suite(**values)


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
    """The cross product regularizers x settings x seeds, in that order. A run's steps: its regularizer
    entry's, else its setting's, else the suite's (capped by --max-steps)."""
    runs = []
    for reg in suite.regularizers:
        loss = reg.loss or REGULARIZERS.get(reg.name).loss or suite.loss
        for s in suite.settings:
            for seed in suite.seeds:
                runs.append(RunSpec(
                    suite=suite.name, dataset=suite.dataset, data_root=suite.data_root, split=suite.split,
                    image_size=suite.image_size, architecture=suite.architecture, width=suite.width,
                    z_dim=suite.z_dim, loss=loss, regularizer=reg.name, label=reg.label, params=reg.params,
                    setting=s.name, lr=s.lr, beta1=s.beta1, beta2=s.beta2, n_dis=s.n_dis, seed=seed,
                    steps=min(reg.steps or s.steps or suite.steps, suite.steps_cap or math.inf),
                    batch_size=suite.batch_size, g_batch_size=suite.g_batch_size or suite.batch_size,
                    init=suite.init, latent=suite.latent, d_passes=suite.d_passes, lr_decay=suite.lr_decay,
                    log_every=suite.log_every,
                    track_sn_every=suite.track_sn_every, checkpoint_every=suite.checkpoint_every,
                    device=suite.device, evaluation=suite.evaluation, overrides=suite.overrides,
                    compile=suite.compile, bf16=suite.bf16, channels_last=suite.channels_last,
                    suite_sha256=suite.source_sha256, plugins=suite.plugins, tensorboard=suite.tensorboard))
    return runs


def group_hash(specs) -> str:
    """What identifies a fused group: its members' configs, in order."""
    return hashlib.sha256(" ".join(s.config_hash for s in specs).encode()).hexdigest()[:10]


def solo_reason(spec: RunSpec) -> str | None:
    """Why ``spec`` cannot join a fused group (None: it can): the one place that says which runs train alone,
    read by the grouping and by the fused backend."""
    if not REGULARIZERS.get(spec.regularizer).fusable:
        return f"{spec.regularizer} declares fusable = False"
    switches = [k for k in SPEED_SWITCHES if getattr(spec, k)]
    if switches:
        return f"{', '.join(switches)} runs train alone"
    return None


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
