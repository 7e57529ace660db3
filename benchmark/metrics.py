"""IS, FID and KID through torch-fidelity, against cached reference features.

The math is torch-fidelity's (``isc_features_to_metric``,
``fid_statistics_to_metric``, ``kid_features_to_metric``) and so are the
feature extractors; what we add is extracting each set of features once (IS
and FID share the generated set) and a reference cache whose key includes a
hash of the extractor's weights, so stale reference statistics cannot be read.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from . import digits_cnn
from .data import load_images
from .suite import Evaluation

# dataset -> (feature extractor, IS layer, FID/KID layer)
EXTRACTORS = {"digits": (digits_cnn.NAME, "logits", "features")}
INCEPTION = ("inception-v3-compat", "logits_unbiased", "2048")


class ImageTensor(Dataset):
    """uint8 images as torch-fidelity's input: a Dataset of uint8 C x H x W tensors."""

    def __init__(self, images: torch.Tensor):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"expected uint8 images (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def module_hash(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class Scorer:
    """Scores uint8 image sets of one dataset/resolution against its real reference split."""

    def __init__(self, *, dataset: str, image_size: int, evaluation: Evaluation, data_root: str | None = None,
                 device: torch.device | str = "cpu", cache_dir: Path | None = None):
        self.dataset, self.image_size, self.evaluation = dataset, image_size, evaluation
        self.data_root = data_root
        self.cuda = torch.device(device).type == "cuda"
        self.cache_dir = Path(cache_dir or digits_cnn.cache_dir())
        self.extractor_name, self.is_layer, self.fid_layer = EXTRACTORS.get(dataset, INCEPTION)
        kwargs = {"verbose": False}
        if self.extractor_name == digits_cnn.NAME:
            digits_cnn.register()
            kwargs["feature_extractor_weights_path"] = str(digits_cnn.weights_path())
        self.extractor = create_feature_extractor(self.extractor_name, [self.is_layer, self.fid_layer],
                                                  cuda=self.cuda, **kwargs)
        self.weights_hash = module_hash(self.extractor)
        self.extractor_runs = 0  # real-data passes, for the cache tests
        self._reference: dict | None = None

    # -- features ---------------------------------------------------------------------------------
    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return get_featuresdict_from_dataset(ImageTensor(images), self.extractor, self.evaluation.batch_size,
                                             self.cuda, save_cpu_ram=True, verbose=False)

    def reference_key(self, split: str) -> str:
        return (f"ref-{self.dataset}-{split}-{self.image_size}px-n{self.evaluation.fid_real}"
                f"-{self.extractor_name}-{self.weights_hash}")

    def real_features(self, split: str) -> dict[str, torch.Tensor]:
        path = self.cache_dir / f"{self.reference_key(split)}.pt"
        if path.exists():
            return torch.load(path, map_location="cpu", weights_only=True)
        images = load_images(self.dataset, split=split, size=self.image_size, root=self.data_root)
        images = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))]
        feats = self.features(images[: self.evaluation.fid_real])
        self.extractor_runs += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(feats, tmp)
        os.replace(tmp, path)
        return feats

    @property
    def reference(self) -> dict:
        if self._reference is None:
            feats = self.real_features(self.evaluation.fid_real_split)
            self._reference = {"features": feats[self.fid_layer],
                               "stats": fid_features_to_statistics(feats[self.fid_layer])}
        return self._reference

    # -- scores -----------------------------------------------------------------------------------
    def score_features(self, feats: dict[str, torch.Tensor]) -> dict:
        ev = self.evaluation
        isc = isc_features_to_metric(feats[self.is_layer][: ev.is_samples], splits=ev.is_splits)
        fake = feats[self.fid_layer][: ev.fid_fake]
        fid = fid_statistics_to_metric(self.reference["stats"], fid_features_to_statistics(fake), verbose=False)
        real = self.reference["features"]
        kid = kid_features_to_metric(real, fake, kid_subset_size=min(1000, len(real), len(fake)), verbose=False)
        return {"inception_score_mean": isc[KEY_METRIC_ISC_MEAN], "inception_score_std": isc[KEY_METRIC_ISC_STD],
                "fid": fid[KEY_METRIC_FID], "kid_mean": kid[KEY_METRIC_KID_MEAN], "kid_std": kid[KEY_METRIC_KID_STD]}

    def score(self, images: torch.Tensor) -> dict:
        return self.score_features(self.features(images))

    def protocol(self) -> dict:
        return {**asdict(self.evaluation), "dataset": self.dataset, "image_size": self.image_size,
                "feature_extractor": self.extractor_name, "feature_extractor_weights_sha256": self.weights_hash,
                "is_layer": self.is_layer, "fid_layer": self.fid_layer}
