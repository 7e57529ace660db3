"""TensorBoard logging of one run, off unless asked for (`regbench run --tensorboard DIR`, or `tensorboard: DIR` in
a suite): each run writes its own folder, ``DIR/<suite>/<run_id>``, from whichever process trains it (a local
worker, a Ray task, a Slurm job), so `tensorboard --logdir DIR` shows a sweep as it trains.

What appears where in TensorBoard:
- Scalars: ``loss/D``, ``loss/G`` (means over each ``log_every`` updates), ``time/sec_per_100_updates`` (the
  training clock so far), ``spectral_norm/<layer>`` (each D layer, every ``track_sn_every`` updates), and
  ``eval/inception_score``, ``eval/fid`` at each evaluation (``evaluation.history_every``).
- Images: ``samples``, a grid of the generator's images at each evaluation (the same latents each time).
- HParams: the run's regularizer, its parameters, lr, beta1, beta2, n_dis, seed and setting, with its final
  ``final/fid``, ``final/inception_score``, ``final/kid`` and ``final/sec_per_100_updates``: a sweep's runs side by side.

Every call happens off the training clock (train.py calls it where it already stops the clock to log).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import make_grid

from .errors import LogUnwritable
from .schema import RunSpec

GRID = 64  # images in the samples grid


def run_dir(root: str | Path, spec: RunSpec) -> Path:
    return Path(root) / spec.suite / spec.run_id


class RunLog:
    """One run's event files. ``resumed_from``: a resumed run first drops what the interrupted one logged
    after its checkpoint (TensorBoard's purge_step), so no step appears twice."""

    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.dir = run_dir(spec.tensorboard, spec)
        self.writer = None

    def begin(self, resumed_from: int | None) -> None:
        """Called by train() once it knows where it starts."""
        from torch.utils.tensorboard import SummaryWriter

        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(self.dir), purge_step=resumed_from + 1 if resumed_from else None)
        except OSError as exc:  # the folder's fault, not the run's: it must not become a failed result
            raise LogUnwritable(self.dir, exc.errno or 0, exc.strerror or str(exc)) from None

    def losses(self, step: int, d_loss: float, g_loss: float, sec_per_100: float) -> None:
        self.writer.add_scalar("loss/D", d_loss, step)
        self.writer.add_scalar("loss/G", g_loss, step)
        self.writer.add_scalar("time/sec_per_100_updates", sec_per_100, step)

    def spectral_norms(self, step: int, layers: list[str], values: list[float]) -> None:
        for name, value in zip(layers, values):
            self.writer.add_scalar(f"spectral_norm/{name}", value, step)

    def evaluation(self, step: int, scores: dict, generator: torch.nn.Module) -> None:
        from .train import generate

        for key, tag in (("inception_score_mean", "eval/inception_score"), ("fid", "eval/fid")):
            if scores.get(key) is not None and math.isfinite(scores[key]):
                self.writer.add_scalar(tag, scores[key], step)
        spec = self.spec
        images = generate(generator, GRID, z_dim=spec.z_dim, seed=spec.seed, latent=spec.latent)
        self.writer.add_image("samples", make_grid((images + 1) / 2, nrow=8).clamp(0, 1), step)
        self.writer.flush()  # so that TensorBoard shows it now, not when the run ends

    def finish(self, record: dict) -> None:
        if self.writer is None:  # the run failed before training began
            return
        spec = self.spec
        hparams = {"regularizer": spec.label, "setting": spec.setting, "lr": spec.lr, "beta1": spec.beta1,
                   "beta2": spec.beta2, "n_dis": spec.n_dis, "seed": spec.seed, "status": record["status"],
                   **{f"param/{k}": v for k, v in spec.params}}
        metrics = {f"final/{name}": record.get(key) for name, key in (
            ("fid", "fid"), ("inception_score", "inception_score_mean"), ("kid", "kid_mean"),
            ("sec_per_100_updates", "sec_per_100_updates"))}
        # a diverged run has no scores: NaN, which the HParams table shows as empty
        metrics = {k: float(v) if v is not None else math.nan for k, v in metrics.items()}
        self.writer.add_hparams(hparams, metrics, run_name=".", global_step=record.get("steps_done") or 0)
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
