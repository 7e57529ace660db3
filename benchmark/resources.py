"""What the runs of a sweep share: training images and scorers, loaded once per process, and the real data's
scores written once per protocol (the report's "real data" row)."""
from __future__ import annotations

from pathlib import Path

import torch

from .backends import resolve_device
from .data import load_images
from .metrics import Scorer
from .store import REFERENCE_DIR, write_json
from .schema import RunSpec


class Resources:
    """Training images and scorers, loaded once per sweep and shared by its runs.

    Loading happens before the first run, so a missing dataset or feature
    extractor stops the sweep at once instead of failing every run.
    """

    def __init__(self, *, inception_weights: str | None = None):
        self.inception_weights = inception_weights
        self._images: dict = {}
        self._scorers: dict = {}

    def images(self, spec: RunSpec) -> torch.Tensor:
        key = (spec.dataset, spec.split, spec.image_size, spec.data_root)
        if key not in self._images:
            self._images[key] = load_images(spec.dataset, split=spec.split, size=spec.image_size,
                                            root=spec.data_root)
        return self._images[key]

    def scorer(self, spec: RunSpec) -> Scorer:
        key = (spec.dataset, spec.image_size, spec.evaluation, spec.data_root, resolve_device(spec.device))
        if key not in self._scorers:
            scorer = Scorer(dataset=spec.dataset, image_size=spec.image_size, evaluation=spec.evaluation,
                            data_root=spec.data_root, device=key[-1], weights_path=self.inception_weights)
            scorer.reference  # computed (or read from cache) now, not inside the first run
            self._scorers[key] = scorer
        return self._scorers[key]

    def prepare(self, specs: list[RunSpec]) -> None:
        for spec in specs:
            self.images(spec)
            self.scorer(spec)

    def write_real_data(self, specs: list[RunSpec], results_dir: Path) -> None:
        """The held-out real data's scores, once per protocol, for the report's "real data" row."""
        for spec in specs:
            path = real_data_path(results_dir, self.scorer(spec))
            if not path.exists():
                scorer = self.scorer(spec)
                record = {"suite": spec.suite, "protocol": scorer.protocol(), "real_data": scorer.real_data()}
                write_json(path, record)


def real_data_path(results_dir: Path, scorer: Scorer) -> Path:
    ev = scorer.evaluation
    name = (f"real_data-{scorer.dataset}-{scorer.image_size}px-{ev.fid_real_split}-n{ev.fid_real}"
            f"-{scorer.extractor_name}-{scorer.weights_hash}.json")
    return Path(results_dir) / REFERENCE_DIR / name
