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
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity.defaults import DEFAULTS as FIDELITY_DEFAULTS
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from . import scorers
from .errors import FeatureExtractorUnavailable
from .data import cache_dir as default_cache_dir, load_images
from .store import atomic_torch_save
from .schema import Evaluation

# KID as torch-fidelity defines it by default; the subset size shrinks to the sample counts when they are smaller
KID_SUBSET_SIZE = FIDELITY_DEFAULTS["kid_subset_size"]

# dataset -> (feature extractor, IS layer, FID/KID layer)
EXTRACTORS = {dataset: (name, "logits", "features") for dataset, name in scorers.FOR_DATASET.items()}
INCEPTION = ("inception-v3-compat", "logits_unbiased", "2048")
INCEPTION_FILE = Path(URL_INCEPTION_V3).name
INCEPTION_ENV = "REGBENCH_INCEPTION_WEIGHTS"
# the real split held out from the reference, scored as the "real data" row (the paper's Table 2 floor)
HELD_OUT = {"train": "test", "test": "train", "unlabeled": "test", "train+unlabeled": "test"}


def inception_weights(path: str | None) -> str:
    """The Inception weights file: an explicit path, else $REGBENCH_INCEPTION_WEIGHTS, else torch-fidelity's
    release file in the torch hub cache, downloaded there once when online."""
    path = path or os.environ.get(INCEPTION_ENV) or None
    if path is not None:
        if not Path(path).is_file():
            raise FeatureExtractorUnavailable(f"Inception weights file {path!r} does not exist (expected a copy of "
                                              f"{INCEPTION_FILE})")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(URL_INCEPTION_V3, str(cached), progress=True)
        except OSError as exc:  # URLError is an OSError: offline, and no local copy
            raise FeatureExtractorUnavailable(
                f"Inception weights {INCEPTION_FILE} are missing: not at {cached} and the download failed "
                f"({type(exc).__name__}: {str(exc)[:80]}); pass --inception-weights PATH or set "
                f"{INCEPTION_ENV}=PATH to a local copy") from None
    return str(cached)


def write_random_inception(path: Path) -> Path:
    """Inception-v3 with random weights, saved where ``--inception-weights`` can load it: the real weights
    are a download, and throughput checks and offline tests of the Inception path do not need them."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    empty = Path(path).with_suffix(".empty.pth")
    torch.save({}, empty)
    original = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, sd, strict=True: None  # keep the random init
    try:
        net = FeatureExtractorInceptionV3(INCEPTION[0], [INCEPTION[2]], feature_extractor_weights_path=str(empty))
    finally:
        FeatureExtractorInceptionV3.load_state_dict = original
        empty.unlink()
    torch.save(net.state_dict(), path)
    return Path(path)


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
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class Scorer:
    """Scores uint8 image sets of one dataset/resolution against its real reference split."""

    def __init__(self, *, dataset: str, image_size: int, evaluation: Evaluation, data_root: str | None = None,
                 device: torch.device | str = "cpu", cache_dir: Path | None = None,
                 weights_path: str | None = None):
        """``weights_path``: the feature extractor's weights (Inception: else $REGBENCH_INCEPTION_WEIGHTS or
        torch-fidelity's download; a shipped classifier: else its pinned file in the package)."""
        self.dataset, self.image_size, self.evaluation = dataset, image_size, evaluation
        self.data_root = data_root
        self.cuda = torch.device(device).type == "cuda"
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.extractor_name, self.is_layer, self.fid_layer = EXTRACTORS.get(dataset, INCEPTION)
        self.extractor_info: dict = {}
        if self.extractor_name in scorers.SCORERS:
            scorers.register()
            weights_path = str(weights_path or scorers.weights_path(self.extractor_name))
        else:
            weights_path = inception_weights(weights_path)
        self.extractor = create_feature_extractor(self.extractor_name, [self.is_layer, self.fid_layer],
                                                  cuda=self.cuda, verbose=False,
                                                  feature_extractor_weights_path=weights_path)
        self.extractor_info = dict(getattr(self.extractor, "info", {}))
        self.weights_hash = module_hash(self.extractor)
        self.extractor_runs = 0  # passes over real data, for the cache tests
        self._reference: dict | None = None

    # -- features ---------------------------------------------------------------------------------
    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return get_featuresdict_from_dataset(ImageTensor(images), self.extractor, self.evaluation.batch_size,
                                             self.cuda, save_cpu_ram=True, verbose=False)

    def real_images(self, split: str, n: int) -> torch.Tensor:
        """n real images of a split (all if fewer), in a fixed shuffled order."""
        images = load_images(self.dataset, split=split, size=self.image_size, root=self.data_root)
        return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(0))][:n]

    def reference_key(self, split: str, images: torch.Tensor) -> str:
        # the images' own hash: a changed folder or dataset file can never be read from a stale cache
        data = hashlib.sha256(images.numpy().tobytes()).hexdigest()[:12]
        return (f"ref-{self.dataset}-{split}-{self.image_size}px-n{len(images)}-data{data}"
                f"-{self.extractor_name}-{self.weights_hash}")

    def real_features(self, split: str) -> dict[str, torch.Tensor]:
        images = self.real_images(split, self.evaluation.fid_real)
        path = self.cache_dir / f"{self.reference_key(split, images)}.pt"
        if path.exists():
            return torch.load(path, map_location="cpu", weights_only=True)
        feats = self.features(images)
        self.extractor_runs += 1
        atomic_torch_save(feats, path)  # concurrent workers never read half a file
        return feats

    @property
    def reference(self) -> dict:
        if self._reference is None:
            feats = self.real_features(self.evaluation.fid_real_split)
            self._reference = {"features": feats[self.fid_layer],
                               "stats": fid_features_to_statistics(feats[self.fid_layer])}
        return self._reference

    # -- scores -----------------------------------------------------------------------------------
    def score_features(self, feats: dict[str, torch.Tensor], *, kid: bool = True) -> dict:
        """IS, FID and (unless ``kid`` is False: they cost more than the other two together) KID, precision
        and recall."""
        ev = self.evaluation
        isc = isc_features_to_metric(feats[self.is_layer][: ev.is_samples], splits=ev.is_splits)
        fake = feats[self.fid_layer][: ev.fid_fake]
        fid = fid_statistics_to_metric(self.reference["stats"], fid_features_to_statistics(fake), verbose=False)
        out = {"inception_score_mean": isc[KEY_METRIC_ISC_MEAN], "inception_score_std": isc[KEY_METRIC_ISC_STD],
               "fid": fid[KEY_METRIC_FID]}
        if kid:
            real = self.reference["features"]
            scores = kid_features_to_metric(real, fake, kid_subsets=self.evaluation.kid_subsets, verbose=False,
                                            kid_subset_size=min(KID_SUBSET_SIZE, len(real), len(fake)))
            out.update(kid_mean=scores[KEY_METRIC_KID_MEAN], kid_std=scores[KEY_METRIC_KID_STD])
            # torch-fidelity's convention: generated first, real second
            prc = prc_features_to_metric(fake, real, prc_neighborhood=self.prc_k(len(fake)),
                                         prc_batch_size=FIDELITY_DEFAULTS["prc_batch_size"], save_cpu_ram=False,
                                         verbose=False)
            out.update(precision=prc[KEY_METRIC_PRECISION], recall=prc[KEY_METRIC_RECALL])
        return out

    def prc_k(self, fakes: int) -> int:
        """The neighbourhood precision and recall use: the suite's k, less where a sample set is so small (a
        test's few images) that a point has fewer than k neighbours; the protocol records the k used."""
        return max(1, min(self.evaluation.prc_neighborhood, len(self.reference["features"]) - 1, fakes - 1))

    def score(self, images: torch.Tensor, *, kid: bool = True) -> dict:
        return self.score_features(self.features(images), kid=kid)

    def real_data(self) -> dict | None:
        """Real images scored like a generator's samples: the floor every run is read against. FID: fid_fake
        images of the split held out from the reference; IS: is_samples images of ``real_is_split`` (else of
        that held-out split). Each count is capped at its split's size and recorded as used."""
        held_out = HELD_OUT.get(self.evaluation.fid_real_split)
        if held_out is None:
            return None
        ev = self.evaluation
        is_split = ev.real_is_split or held_out
        try:
            if is_split == held_out:  # one set of images: IS on its first is_samples, FID on its first fid_fake
                images = self.real_images(held_out, max(ev.is_samples, ev.fid_fake))
                scores, n_is, n_fid = self.score(images), min(len(images), ev.is_samples), min(len(images), ev.fid_fake)
            else:
                fid_images, is_images = self.real_images(held_out, ev.fid_fake), self.real_images(is_split, ev.is_samples)
                isc = self.score(is_images, kid=False)
                scores = {**self.score(fid_images), **{k: isc[k] for k in ("inception_score_mean", "inception_score_std")}}
                n_is, n_fid = len(is_images), len(fid_images)
        except ValueError:  # a dataset without that split
            return None
        return {"split": held_out, "samples": n_fid, "is_split": is_split, "is_samples": n_is, **scores}

    def protocol(self) -> dict:
        """The scoring protocol as used: fid_real is the number of real images in the reference (a split
        smaller than the suite asked for is recorded as what it gave)."""
        return {**asdict(self.evaluation), "fid_real": len(self.reference["features"]),
                "dataset": self.dataset, "image_size": self.image_size,
                "feature_extractor": self.extractor_name, "feature_extractor_weights_sha256": self.weights_hash,
                "feature_extractor_info": self.extractor_info, "is_layer": self.is_layer, "fid_layer": self.fid_layer,
                "kid_subsets": self.evaluation.kid_subsets, "prc_neighborhood": self.prc_k(self.evaluation.fid_fake),
                "torch_fidelity": torch_fidelity.__version__}
