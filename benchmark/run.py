"""One group of runs, specs to results: train, score, assemble each run's result record (the machine and
code it ran on come from provenance.py)."""
from __future__ import annotations

import time
import traceback
from pathlib import Path

import torch

from .data import to_uint8
from .errors import CannotWrite
from .metrics import Scorer
from .provenance import environment, peak_rss_mb
from .regularizers import REGULARIZERS, load_plugin_file
from .schema import RunSpec
from .grouping import Group
from .train import generate, resolve_device, train_group


# a result record's outcome half, as it stands before the run has any: a run that dies before training is "failed"
OUTCOME = {"status": "failed", "error": None, "steps_done": 0, "resumed_from_step": None,
           "inception_score_mean": None, "inception_score_std": None, "fid": None, "kid_mean": None,
           "kid_std": None, "precision": None, "recall": None, "feature_extractor": None,
           "feature_extractor_weights": None, "sec_per_100_updates": None}


def base_record(spec: RunSpec) -> dict:
    """A result record before the run: the spec's declared fields (schema.py) and an empty outcome."""
    return {**spec.record(), **OUTCOME}


def history_evaluator(spec: RunSpec, scorer: Scorer):
    """IS/FID of a smaller sample, for the curves over training (no KID: it would double the cost)."""
    n = spec.evaluation.history_samples

    def evaluate(generator) -> dict:
        images = to_uint8(generate(generator, n, z_dim=spec.z_dim, seed=spec.seed, latent=spec.latent))
        return {"samples": n, **scorer.score(images, kid=False)}

    return evaluate


def execute(spec: RunSpec, *, real: torch.Tensor, scorer: Scorer, progress: bool = True,
            checkpoint: Path | None = None, should_stop=None) -> tuple[dict, torch.Tensor | None]:
    """Run one spec on ``real`` (uint8 training images); a problem inside the run becomes status ``failed``.

    ``checkpoint``: where training state is saved (every ``checkpoint_every`` updates) and resumed from.
    ``should_stop``: see train(); its Stopped passes through, as KeyboardInterrupt and errors.CannotWrite do.
    Returns the result record and a uint8 grid of samples (or None).
    """
    return execute_group([spec], real=real, scorer=scorer, progress=progress, checkpoint=checkpoint,
                         should_stop=should_stop)[0]


def execute_group(specs: list[RunSpec], *, real: torch.Tensor, scorer: Scorer, progress: bool = True,
                  checkpoint: Path | None = None, should_stop=None) -> list[tuple[dict, torch.Tensor | None]]:
    """Run ``specs`` as one group (suite.groups made it; one spec: a solo run) and score each member: one
    (record, samples) per spec, in order. A problem in training fails every member with the reason (the
    rerun redoes them all); a problem in one member's scoring fails that member."""
    records = [base_record(spec) for spec in specs]
    device = resolve_device(specs[0].device)
    env = environment(device)
    started = time.time()
    fused = len(specs) > 1
    for record in records:
        record["environment"] = env
        if fused:
            record["fused"] = {"group": Group(tuple(specs)).id, "size": len(specs), "members": [s.run_id for s in specs],
                               "group_sec_per_100_updates": None}
    samples: list = [None] * len(specs)
    monitors: list = []
    spec = specs[0]
    try:
        for path in spec.plugins:  # a worker process starts with the built-ins and installed plugins only
            load_plugin_file(path)
        for record in records:
            record["regularizer_origin"] = REGULARIZERS.origin(spec.regularizer)
            record["feature_extractor"] = scorer.extractor_name
            record["feature_extractor_weights"] = scorer.weights_hash
            record["protocol"] = scorer.protocol()
        if spec.tensorboard:
            from .tensorboard import RunLog

            monitors = [RunLog(s) for s in specs]
        outcomes = train_group(specs, real, progress=progress, evaluate=[history_evaluator(s, scorer) for s in specs],
                               checkpoint=checkpoint, should_stop=should_stop, monitors=monitors or None)
    except BaseException as exc:
        if not isinstance(exc, Exception) or isinstance(exc, CannotWrite):
            # stopped (Ctrl-C, a scheduler's notice) or no room to write: not this run's fault, it stays unfinished
            for monitor in monitors:
                monitor.close()  # what was logged so far stays readable
            raise
        trace = traceback.format_exc()
        for record in records:
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=trace)
        outcomes = None
    for i, (s, record) in enumerate(zip(specs, records)):
        if outcomes is not None:
            outcome = outcomes[i]
            record.update(status=outcome.status, error=outcome.error, steps_done=outcome.steps_done,
                          d_passes=outcome.d_passes, sec_per_100_updates=outcome.sec_per_100_updates,
                          history=outcome.history, resumed_from_step=outcome.resumed_from)
            if fused:
                record["fused"]["group_sec_per_100_updates"] = outcome.group_sec_per_100_updates
            try:
                if outcome.status == "ok":
                    ev = s.evaluation
                    n = max(ev.is_samples, ev.fid_fake, ev.sample_grid)
                    images = to_uint8(generate(outcome.generator, n, z_dim=s.z_dim, seed=s.seed, latent=s.latent))
                    record.update(scorer.score(images))
                    samples[i] = images[: ev.sample_grid]
            except Exception as exc:
                record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        record["wall_seconds"] = time.time() - started
        if monitors:
            monitors[i].finish(record)  # the HParams row: the final scores beside the run's hyperparameters
        record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        record["peak_rss_mb"] = peak_rss_mb()
    return list(zip(records, samples))
