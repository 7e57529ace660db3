"""Every field of a suite and of a run, declared once.

Each field says its type, its bounds (and the words an error message uses for them), its default, what it
does (one line), whether it enters the run id, and under which key a result records it. Everything else is
read off these declarations: the suite's validation (suite.py), the expansion of a suite into runs (a run
takes each suite-wide field as it is), a run's config hash, the spec half of its result record, and the suite
reference, docs/suites.md (``python -m benchmark.schema > docs/suites.md``; a test keeps it current).

Three data classes share the suite-wide fields through ``RunOptions``: ``Suite`` (what a file says, plus the
lists a run is drawn from) and ``RunSpec`` (one resolved run: the options, plus its regularizer, setting and
seed).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any, Callable

from .data import DATASETS
from .latent import LATENTS
from .losses import LOSSES
from .models import ARCHITECTURES, INITS
from .regularizers import REGULARIZERS

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
D_PASSES = ("separate", "joint")
LR_DECAYS = ("none", "linear")
NONE = type(None)

# how a field enters the run id (the hash of what decides a run's numbers)
IN_ID, NOT_IN_ID, IN_ID_UNLESS_DEFAULT = "yes", "no", "unless default"
# how a suite file gives a field: checked against its declaration, parsed by its own step in suite.py, or
# not at all (the harness sets it: the file's path and hash, --max-steps)
SIMPLE, PARSED, INTERNAL = "simple", "parsed", "internal"


def option(default: Any = MISSING, *, types, doc: str, check: Callable[[Any], bool] | None = None,
           wants: str = "", in_id: str = IN_ID, record: bool | str = False, as_record: Callable | None = None,
           yaml: str = SIMPLE, factory: Callable | None = None, shown_default: str | None = None) -> Any:
    """A field's declaration. ``check(value)`` is its bound (None: the type suffices), ``wants`` the words
    for it in "must be <wants>, got <value>"; ``record``: True, or the key a result records it under;
    ``as_record``: how it is written there (pairs become a mapping)."""
    meta = {"types": types if isinstance(types, tuple) else (types,), "doc": doc, "check": check, "wants": wants,
            "in_id": in_id, "record": record, "as_record": as_record, "yaml": yaml,
            "shown_default": shown_default}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def between(least, most=None, *, unit: str = "") -> dict:
    """``check`` and ``wants`` of a bound from ``least`` to ``most`` (None: no upper bound)."""
    if most is None:
        return {"check": lambda v: v >= least, "wants": f">= {least}"}
    return {"check": lambda v: least <= v <= most, "wants": f">= {least} and at most {most:,}{unit}"}


def one_of(names, what: str | None = None) -> dict:
    return {"check": lambda v: v in names, "wants": what or f"one of {', '.join(names)}"}


def nonempty(what: str) -> dict:
    return {"check": lambda v: bool(v.strip()), "wants": what}


@dataclass(frozen=True)
class Evaluation:
    """How a run is scored (the suite's ``evaluation:`` mapping)."""

    is_samples: int = option(5000, types=int, doc="generated images the Inception Score is computed on",
                             **between(1, MAX_SAMPLES))
    is_splits: int = option(10, types=int, doc="splits the Inception Score is the mean and std over",
                            **between(1, MAX_SAMPLES))
    fid_real_split: str = option("train", types=str, doc="the split FID's reference statistics come from")
    fid_real: int = option(FID_REAL, types=int, **between(1, MAX_SAMPLES),
                           doc="real images in FID's reference: at most the split's size; a suite that omits it "
                               "gets min(10,000, the split's size)")
    fid_fake: int = option(5000, types=int, doc="generated images FID, KID and precision/recall are computed on",
                           **between(1, MAX_SAMPLES))
    batch_size: int = option(256, types=int, doc="images per forward pass of the scoring network",
                             **between(1, MAX_BATCH))
    sample_grid: int = option(64, types=int, doc="images saved per run for the report's sample grids",
                              **between(1, 1024))
    history_every: int = option(0, types=int, doc="IS and FID over training, every N updates (0: only at the end)",
                                **between(0))
    history_samples: int = option(1000, types=int, doc="generated images for each of those (IS and FID alike)",
                                  **between(1, MAX_SAMPLES))
    kid_subsets: int = option(KID_SUBSETS, types=int, in_id=IN_ID_UNLESS_DEFAULT, **between(1, 10000),
                              doc="KID's subsets (torch-fidelity's 100); each costs three kernel matrices in numpy")
    # precision and recall (Kynkaanniemi et al. 2019) on FID's features: a sample counts when it falls inside
    # the k-th-nearest-neighbour ball of a point of the other set; torch-fidelity's and the paper's k = 3
    prc_neighborhood: int = option(PRC_NEIGHBORHOOD, types=int, in_id=IN_ID_UNLESS_DEFAULT, **between(1, 1000),
                                   doc="k of precision and recall's k-nearest-neighbour balls (the paper's 3)")
    # the paper's 11.24 for CIFAR-10 is the IS of its 50,000 training images
    real_is_split: str | None = option(None, types=(str, NONE), in_id=NOT_IN_ID,
                                       doc="the split whose IS is the report's real-data row (null: the split held "
                                           "out from FID's reference); it scores real data, not a run")


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


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The fields a suite sets for all its runs; each run takes them as they are, except ``loss``, ``steps``
    and ``g_batch_size``, which expansion resolves (a regularizer's own loss and steps, batch_size)."""

    dataset: str = option(types=str, record=True, doc="digits | fashion_mnist | cifar10 | stl10 | folder",
                          **one_of(DATASETS, "a registered dataset"))
    data_root: str | None = option(None, types=(str, NONE), in_id=NOT_IN_ID,
                                   doc="where fashion_mnist/cifar10/stl10/folder files live (or --data-root)")
    split: str = option("train", types=str, record=True, check=bool, wants="a split name",
                        doc="the split training images are drawn from")
    image_size: int = option(32, types=int, record=True,
                             check=lambda v: 8 <= v <= MAX_IMAGE_SIZE and v % 8 == 0,
                             wants=f"a multiple of 8 from 8 to {MAX_IMAGE_SIZE} (8, 16, 32, 48)",
                             doc="a multiple of 8: 8, 16, 32 (CIFAR-10; Fashion-MNIST zero-padded), 48 (STL-10)")
    architecture: str = option("standard_cnn", types=str, record=True, **one_of(ARCHITECTURES,
                               "a registered architecture"),
                               doc="standard_cnn (the paper's Table 3) | sndcgan (the authors' public SN-DCGAN) | resnet")
    width: float = option(1.0, types=(float, int), record=True, check=lambda v: 0 < v <= MAX_WIDTH,
                          wants=f"> 0 and at most {MAX_WIDTH:g} (x the paper's channels)",
                          doc="scales every channel count (1.0: the paper's)")
    z_dim: int = option(128, types=int, record=True, check=lambda v: 0 < v <= MAX_Z_DIM,
                        wants=f"from 1 to {MAX_Z_DIM}", doc="the latent's dimension")
    loss: str = option("standard", types=str, record=True, **one_of(LOSSES, "a registered loss"),
                       doc="standard (non-saturating) | hinge | wasserstein; a regularizer's own loss (WGAN-GP's "
                           "wasserstein) and a regularizer entry's `loss:` come first")
    steps: int = option(types=int, record=True, check=lambda v: v > 0, wants="> 0",
                        doc="generator updates; a setting's or a regularizer entry's `steps:` come first")
    # batch norm (in every G, and in D's batch_norm) needs more than one value per channel
    batch_size: int = option(64, types=int, record=True, check=lambda v: 2 <= v <= MAX_BATCH,
                             wants=f"from 2 to {MAX_BATCH} (batch norm needs 2 or more)",
                             doc="real (and fake) images per D update")
    g_batch_size: int | None = option(None, types=(int, NONE), record=True, check=lambda v: 2 <= v <= MAX_BATCH,
                                      wants=f"from 2 to {MAX_BATCH} (or null: batch_size; batch norm needs 2 or more)",
                                      doc="z per G update (null: batch_size; the authors' ResNets use 128)")
    # the training protocol (docs/protocol.md): each defaults to the authors' choice for the paper's CNN
    init: str = option("paper", types=str, record=True, **one_of(INITS),
                       doc="paper: the authors' weight init for the architecture | torch: PyTorch's defaults")
    latent: str = option("normal", types=str, record=True, **one_of(LATENTS),
                         doc="normal: z ~ N(0, I) (the paper's Table 3) | uniform: U(-1, 1) (the authors' SN-DCGAN)")
    d_passes: str = option("separate", types=str, record=True, **one_of(D_PASSES),
                           doc="separate: D on real, then on fake (the authors' updater) | joint: one batch of both")
    lr_decay: str = option("none", types=str, record=True, **one_of(LR_DECAYS),
                           doc="none | linear: the learning rate falls to 0 over the run (the authors' ResNets)")
    log_every: int = option(50, types=int, in_id=NOT_IN_ID, check=lambda v: v > 0, wants="> 0",
                            doc="losses logged every N updates")
    track_sn_every: int = option(1000, types=int, in_id=NOT_IN_ID, check=lambda v: v > 0, wants="> 0",
                                 doc="each D layer's largest singular value recorded every N updates (and at the end)")
    checkpoint_every: int = option(0, types=int, in_id=NOT_IN_ID, check=lambda v: v >= 0,
                                   wants=">= 0 (0: no checkpoints)",
                                   doc="training state saved every N updates (0: never); a rerun resumes from it")
    device: str = option("auto", types=str, in_id=NOT_IN_ID,
                         check=lambda v: v == "auto" or v == "cpu" or v.startswith("cuda"),
                         wants="auto, cpu or cuda[:N]", doc="auto (a GPU if there is one) | cpu | cuda[:N]")
    # GPU speed switches, off by default so times and scores stay comparable with the paper's; in a run's id
    # only when on, so the ids of runs from before they existed stay
    compile: bool = option(False, types=bool, record=True, in_id=IN_ID_UNLESS_DEFAULT,
                           doc="torch.compile D and G (solo runs only)")
    bf16: bool = option(False, types=bool, record=True, in_id=IN_ID_UNLESS_DEFAULT,
                        doc="bf16 autocast for D's and G's forwards (solo runs only)")
    channels_last: bool = option(False, types=bool, record=True, in_id=IN_ID_UNLESS_DEFAULT,
                                 doc="NHWC memory layout for the convs (solo runs only)")
    evaluation: Evaluation = option(types=dict, yaml=PARSED, factory=Evaluation, shown_default="below",
                                    doc="how each run is scored: the keys below")
    overrides: tuple[tuple[str, int], ...] = option((), types=tuple, in_id=NOT_IN_ID, record=True, as_record=dict,
                                                    yaml=INTERNAL, doc="--max-steps / --samples, recorded in every result")
    plugins: tuple[str, ...] = option((), types=list, in_id=NOT_IN_ID, yaml=PARSED,
                                      doc="regularizer plugin files, relative to the suite file; loaded in every "
                                          "worker")
    tensorboard: str | None = option(None, types=(str, NONE), in_id=NOT_IN_ID,
                                     **nonempty("a folder for TensorBoard logs (or null: none)"),
                                     doc="a folder: each run logs its curves, scores and samples to <it>/<suite>/<run_id>")


@dataclass(frozen=True, kw_only=True)
class Suite(RunOptions):
    name: str = option(types=str, **nonempty("a non-empty name"), shown_default="the file's name",
                       doc="the suite's name: its results go to <results>/<name>/ (required in a file of several)")
    path: str = option(types=str, yaml=INTERNAL, doc="the suite file (and document) it was read from")
    regularizers: tuple[RegularizerSpec, ...] = option(types=list, yaml=PARSED,
                                                       doc="names, or {name, label, loss, params, steps, grid | random}")
    settings: tuple[Setting, ...] = option(types=list, yaml=PARSED,
                                           doc="A-F and resnet by name, {name, lr, beta1, beta2, n_dis, steps}, "
                                               "{name, base, ...}, or a grid / random space")
    seeds: tuple[int, ...] = option((0,), types=list, yaml=PARSED, doc="distinct seeds from 0 to 2^32 - 1")
    steps_cap: int | None = option(None, types=(int, NONE), yaml=INTERNAL,
                                   doc="--max-steps, applied to per-regularizer and per-setting steps too")
    cpus_per_run: float = option(1.0, types=(float, int), check=lambda v: v > 0, wants="> 0",
                                 doc="CPUs a Ray or Slurm launcher reserves per run (flags override)")
    gpus_per_run: float = option(0.0, types=(float, int), check=lambda v: v >= 0, wants=">= 0",
                                 doc="GPUs a launcher reserves per run; fractions share a GPU between runs (Ray)")
    source_sha256: str | None = option(None, types=(str, NONE), yaml=INTERNAL,
                                       doc="of the suite file's bytes: the report's reproducibility section")
    success_fid: float | None = option(None, types=(float, int, NONE), check=lambda v: math.isfinite(v) and v > 0,
                                       wants="a finite FID > 0 below which the report counts a run as trained "
                                             "(or null: the dataset's default)",
                                       doc="the report's \"trained\" threshold (null: the dataset's, e.g. digits 150)")
    fuse: int | str = option("auto", types=(int, str),
                             check=lambda v: v == "auto" if isinstance(v, str) else 1 <= v <= MAX_FUSE,
                             wants=f"auto (fuse where it pays), or from 1 (every run alone) to {MAX_FUSE} runs per "
                                   "fused group",
                             doc="auto: fuse runs that differ only in seed, lr and betas where it pays; N: groups of "
                                 "at most N; 1: every run alone")


@dataclass(frozen=True, kw_only=True)
class RunSpec(RunOptions):
    """One fully resolved run: everything train.py and metrics.py need, nothing else."""

    suite: str = option(types=str, in_id=NOT_IN_ID, record=True, doc="the suite's name")
    suite_sha256: str | None = option(None, types=(str, NONE), in_id=NOT_IN_ID, record=True,
                                      doc="the suite file's hash")
    regularizer: str = option(types=str, record="regularizer_name", doc="the registered regularizer")
    label: str = option(types=str, in_id=NOT_IN_ID, record="regularizer",
                        doc="its row in reports (a variant's label, e.g. wgan_gp[gp_lambda=1])")
    params: tuple[tuple[str, Any], ...] = option((), types=tuple, record=True, as_record=dict,
                                                 doc="the regularizer's hyperparameters, resolved")
    setting: str = option(types=str, in_id=NOT_IN_ID, record=True, doc="the setting's name")
    lr: float = option(types=(float, int), record=True, check=lambda v: 0 < v <= MAX_LR,
                       wants=f"> 0 and at most {MAX_LR:g}", doc="Adam's learning rate (D and G)")
    beta1: float = option(types=(float, int), record=True, check=lambda v: 0 <= v < 1, wants="in [0, 1)",
                          doc="Adam's beta1")
    beta2: float = option(types=(float, int), record=True, check=lambda v: 0 <= v < 1, wants="in [0, 1)",
                          doc="Adam's beta2")
    n_dis: int = option(types=int, record=True, check=lambda v: 1 <= v <= MAX_N_DIS, wants=f"from 1 to {MAX_N_DIS}",
                        doc="D updates per G update")
    seed: int = option(types=int, record=True, check=lambda v: 0 <= v <= MAX_SEED,
                       wants=f"from 0 to {MAX_SEED:,} (2^32 - 1)", doc="the run's seed")

    def config(self) -> dict:
        """What defines the run's outcome: hashed into its id. Paths, devices, names and how often the run
        is logged, probed or checkpointed (none of which changes its numbers) are not in it."""
        return _in_id(self)

    @property
    def config_hash(self) -> str:
        blob = json.dumps(self.config(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    @property
    def run_id(self) -> str:
        return f"{self.label}-{self.setting}-s{self.seed}-{self.config_hash}"

    def record(self) -> dict:
        """The spec's half of its result record: the fields declared ``record``, under their keys."""
        out = {"run_id": self.run_id, "config_hash": self.config_hash}
        for f in fields(self):
            key = f.metadata["record"]
            if key:
                value = getattr(self, f.name)
                out[f.name if key is True else key] = f.metadata["as_record"](value) if f.metadata["as_record"] \
                    else value
        return out


def _in_id(obj) -> dict:
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        rule = f.metadata["in_id"]
        if rule == NOT_IN_ID or (rule == IN_ID_UNLESS_DEFAULT and value == f.default):
            continue
        out[f.name] = _in_id(value) if isinstance(value, Evaluation) else \
            asdict(value) if hasattr(value, "__dataclass_fields__") else value
    return out


def group_hash(specs) -> str:
    """What identifies a fused group: its members' configs, in order."""
    return hashlib.sha256(" ".join(s.config_hash for s in specs).encode()).hexdigest()[:10]


SPEED_SWITCHES = ("compile", "bf16", "channels_last")


def solo_reason(spec: RunSpec) -> str | None:
    """Why ``spec`` cannot join a fused group (None: it can): the one place that says which runs train alone,
    read by the grouping and by the fused backend."""
    if not REGULARIZERS.get(spec.regularizer).fusable:
        return f"{spec.regularizer} declares fusable = False"
    switches = [k for k in SPEED_SWITCHES if getattr(spec, k)]
    if switches:
        return f"{', '.join(switches)} runs train alone"
    return None


def suite_keys(cls=Suite) -> list[Field]:
    """The fields a suite file (or its ``evaluation:`` mapping, for ``Evaluation``) may give."""
    return [f for f in fields(cls) if f.metadata["yaml"] != INTERNAL]


def _default(f: Field) -> str:
    if f.metadata["shown_default"]:
        return f.metadata["shown_default"]
    if f.default_factory is not MISSING:
        return ""
    if f.default is MISSING:
        return "required"
    value = f.default
    return "null" if value is None else json.dumps(value if not isinstance(value, tuple) else list(value))


def _type(f: Field) -> str:
    return " or ".join("null" if t is NONE else "mapping" if t is dict else t.__name__ for t in f.metadata["types"])


def reference() -> str:
    """docs/suites.md: every key of a suite file, from the declarations above."""
    head = ["# Suite reference", "",
            "Generated from `benchmark/schema.py` by `python -m benchmark.schema > docs/suites.md` (a test checks "
            "that it is current). *In run id*: whether the key enters the hash in each run's id (changing it makes "
            "new runs); *recorded as*: the key each result file records it under.", ""]

    def table(title: str, rows: list[Field], run_fields: dict) -> list[str]:
        lines = [f"## {title}", "", "| key | type | default | bound | in run id | recorded as | what |",
                 "|---|---|---|---|---|---|---|"]
        for f in rows:
            spec_field = run_fields.get(f.name, f)
            record = spec_field.metadata["record"]
            cells = [f"`{f.name}`", _type(f), _default(f), f.metadata["wants"],
                     spec_field.metadata["in_id"] if f.name in run_fields else "no (not a run field)",
                     "" if not record else f"`{f.name}`" if record is True else f"`{record}`", f.metadata["doc"]]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return lines + [""]

    run_fields = {f.name: f for f in fields(RunSpec)}
    setting_rows = [run_fields[k] for k in ("lr", "beta1", "beta2", "n_dis", "seed")]
    shared = {f.name for f in fields(RunOptions)}
    own_first = sorted(suite_keys(Suite), key=lambda f: f.name in shared)  # name, the lists, then the options
    body = table("Suite keys", own_first, run_fields)
    body += table("`evaluation:` keys", suite_keys(Evaluation), {f.name: f for f in fields(Evaluation)})
    body += table("Per-run values (from a setting, a seed)", setting_rows, run_fields)
    return "\n".join(head + body).rstrip() + "\n"


if __name__ == "__main__":
    print(reference(), end="")
