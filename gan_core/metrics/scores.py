"""FID, KID and IS (torchmetrics, with the shipped classifiers or Inception as features), an
independent float64 Fréchet distance, diversity, and :class:`Score`: a value with the sample sizes and
features it came from. Images are uint8 [0, 255] or float [-1, 1], (B, C, H, W). Metric code never
touches the global torch RNG: randomness comes from explicit seeds.
"""
from __future__ import annotations

import contextlib
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_core.metrics.classifiers import CLASSIFIER_NAMES, FeatureExtractor, joint_log_probs, load_classifier
from gan_core.data.images import to_float, to_uint8

ArrayLike = Union[Tensor, np.ndarray]
ExtractorLike = Union[str, FeatureExtractor]


@dataclass(frozen=True)
class MetricInfo:
    """How a metric is named and read wherever it is shown (tiles, tables, Score.describe)."""
    name: str
    help: str = ""
    headline: bool = False          # a headline metric: tiles, Compare's table, the history chart
    lower_is_better: bool = False
    percent: bool = False           # shown as a percentage


# every metric's name and help, headline metrics first and most telling first
METRICS: dict[str, MetricInfo] = {
    "tag_accuracy": MetricInfo("tag accuracy", "share of samples whose tags, as the classifier reads them, are "
                               "the ones asked for", headline=True, percent=True),
    "diversity_ratio": MetricInfo("same-tag diversity", "how much samples with the same tags differ, as a share "
                                  "of how much real images with those tags differ (pixels): about 1 = as varied "
                                  "as the data, near 0 = G ignores z", headline=True),
    "l1": MetricInfo("L1 to the truth", "pix2pix: mean absolute difference between translated and true held-out "
                     "pictures, grey levels / 255 (lower is better)", headline=True, lower_is_better=True),
    "l1_ratio": MetricInfo("L1 / mean picture", "pix2pix: L1 divided by that of the mean picture; below 0.5 = "
                           "less than half as far from the truth as the mean picture", headline=True,
                           lower_is_better=True),
    "fid": MetricInfo("FID", "distance between real and generated feature statistics (lower is better)",
                      headline=True, lower_is_better=True),
    "recall": MetricInfo("recall", "share of real images with a generated one nearby in feature space "
                         "(diversity, k = 5)", headline=True),
    "precision": MetricInfo("precision", "share of generated images with a real one nearby in feature space "
                            "(fidelity, k = 5)", headline=True),
    "coverage": MetricInfo("coverage", "share of real images whose neighbourhood holds a generated image "
                           "(diversity, k = 5)", headline=True),
    "kid": MetricInfo("KID", headline=True, lower_is_better=True),
    "is": MetricInfo("IS", headline=True),
    "diversity": MetricInfo("diversity", headline=True),
    "confidence": MetricInfo("classifier confidence", percent=True),
    "accuracy": MetricInfo("accuracy", percent=True),
}


class MetricsUnavailable(RuntimeError):
    """A metric cannot be computed here (e.g. Inception weights cannot be downloaded offline)."""


@dataclass
class Score:
    """One metric value with the sample sizes and features it was computed from.

    ``n_real`` / ``n_fake``: number of real / generated images used (0 when not applicable);
    ``std``: spread over subsets/splits (KID, IS) when there is one; ``details``: extra numbers
    (e.g. per-group accuracies ``{"hair_accuracy": 0.97, "eye_accuracy": 0.93}``).
    """

    metric: str                      # "fid" | "kid" | "is" | "tag_accuracy" | "confidence" | "diversity" | "accuracy"
    value: float
    n_real: int = 0
    n_fake: int = 0
    features: str = ""               # feature extractor name, e.g. "faces-classifier", "inception-v3"
    std: Optional[float] = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-able dict: ``{"fid": 12.3, "n_real": 512, "n_fake": 512, "features": ...}``."""
        d: dict[str, Any] = {self.metric: self.value}
        if self.std is not None:
            d[f"{self.metric}_std"] = self.std
        d.update(n_real=self.n_real, n_fake=self.n_fake, features=self.features)
        d.update(self.details)
        return d

    def describe(self) -> str:
        """Human text that states the sample size, e.g. ``FID 12.30 (faces-classifier features; 512
        real vs 512 generated images)``."""
        info = METRICS.get(self.metric)
        name, pct = (info.name, info.percent) if info else (self.metric, False)
        v = f"{100 * self.value:.1f}%" if pct else f"{self.value:.4g}"
        if self.std is not None:
            v += f" ± {100 * self.std:.1f}%" if pct else f" ± {self.std:.2g}"
        sizes = []
        if self.n_real:
            sizes.append(f"{self.n_real} real")
        if self.n_fake:
            sizes.append(f"{self.n_fake} generated")
        n = " vs ".join(sizes) + " images" if sizes else "no images"
        return f"{name} {v} ({self.features}; {n})"

    def __float__(self) -> float:
        return float(self.value)


# ---- feature extractors ------------------------------------------------------------------------------
class InceptionExtractor(FeatureExtractor):
    """torchmetrics' Inception v3 (FID weights, ``inception-v3-compat``): 2048-d pool features and
    1008 logits. Takes uint8 or [-1, 1] images of any size; 1-channel images are repeated to RGB."""

    name = "inception-v3"
    num_features = 2048
    group_names = ("imagenet",)
    num_classes = (1008,)

    def __init__(self, device: Union[str, torch.device] = "cpu", weights_path: Optional[str] = None):
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
            from torchmetrics.utilities.imports import _TORCH_FIDELITY_AVAILABLE
        except ImportError as e:  # pragma: no cover - torchmetrics is a requirement
            raise MetricsUnavailable(f"torchmetrics' image metrics cannot be imported: {e}") from None
        if not _TORCH_FIDELITY_AVAILABLE:
            raise MetricsUnavailable(
                "Inception features need the 'torch-fidelity' package (pip install torch-fidelity) and a "
                "one-time download of the Inception v3 weights (~100 MB); use the project's classifiers "
                f"({', '.join(CLASSIFIER_NAMES)}) instead")
        try:
            net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048", "logits_unbiased"],
                                     feature_extractor_weights_path=weights_path)
        except Exception as e:  # URLError, HTTPError, OSError ... when offline
            raise MetricsUnavailable(
                "the Inception v3 weights could not be loaded (they are downloaded once from GitHub; are "
                f"you offline?): {type(e).__name__}: {e}") from None
        self.net = net.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)

    @torch.no_grad()
    def extract(self, images: Tensor, batch_size: int = 64) -> tuple[Tensor, list[Tensor]]:
        feats, logits = [], []
        for i in range(0, len(images), batch_size):
            x = _as_uint8(images[i:i + batch_size])
            if x.shape[1] == 1:
                x = x.expand(-1, 3, -1, -1)
            f, lg = self.net._torch_fidelity_forward(x.contiguous().to(self.device))
            feats.append(f.float().cpu())
            logits.append(lg.float().cpu())
        return torch.cat(feats), [torch.cat(logits)]


_INCEPTION: dict[str, Any] = {}
_INCEPTION_LOCK = threading.Lock()


def inception_extractor(device: Union[str, torch.device] = "cpu", weights_path: Optional[str] = None) -> InceptionExtractor:
    """Inception v3 features (cached per device). Raises :class:`MetricsUnavailable` with a clear
    reason when torch-fidelity is missing or the weights cannot be downloaded (offline); the failure
    is remembered, so asking again costs nothing."""
    key = str(torch.device(device))
    with _INCEPTION_LOCK:
        got = _INCEPTION.get(key)
        if got is None:
            try:
                got = InceptionExtractor(device, weights_path)
            except MetricsUnavailable as e:
                got = e
            _INCEPTION[key] = got
    if isinstance(got, MetricsUnavailable):
        raise got
    return got


def get_extractor(which: ExtractorLike, device: Union[str, torch.device] = "cpu") -> FeatureExtractor:
    """``"faces"`` / ``"digits"`` (shipped classifiers), ``"inception"``, or an extractor as is."""
    if isinstance(which, FeatureExtractor):
        return which
    if which in CLASSIFIER_NAMES:
        return load_classifier(which, device)
    if which in ("inception", "inception-v3"):
        return inception_extractor(device)
    raise ValueError(f"unknown feature extractor {which!r}; use one of {', '.join(CLASSIFIER_NAMES)}, inception")


# ---- helpers -------------------------------------------------------------------------------------------
def _as_uint8(x: Tensor) -> Tensor:
    return x if x.dtype == torch.uint8 else to_uint8(x)


@contextlib.contextmanager
def _isolated_rng(seed: Optional[int] = None, device: Optional[torch.device] = None) -> Iterator[None]:
    """Run a block without disturbing the global torch RNG (a trainer in this thread relies on it)."""
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield


class _FeatureModule(nn.Module):
    """What torchmetrics' FID/KID/IS take as ``feature=``: a module called on the images the metric
    is updated with (uint8 (B, C, H, W) here, normalize=False), returning (B, F) float64.

    ``output``: "features" (penultimate layer) or "logits" (joint log-probabilities over every
    combination of tags, for IS)."""

    def __init__(self, extractor: Optional[FeatureExtractor], output: str = "features", num_features: int = 0):
        super().__init__()
        self.extractor = extractor
        self.output = output
        if extractor is None:
            self.num_features = num_features
        elif output == "features":
            self.num_features = extractor.num_features
        else:
            self.num_features = int(np.prod(extractor.num_classes))

    def forward(self, x: Tensor) -> Tensor:
        if self.extractor is None:          # the metric is fed precomputed features / logits
            return x.double()
        if self.output == "features":
            return self.extractor.features(x).double()
        return joint_log_probs(self.extractor.logits(x))


def _quiet_metric(cls, **kwargs):
    with warnings.catch_warnings():  # "will save all extracted features in buffer"
        warnings.simplefilter("ignore", UserWarning)
        return cls(**kwargs)


def _np64(x: ArrayLike) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


# ---- Fréchet distance --------------------------------------------------------------------------------
def feature_statistics(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and unbiased covariance (F, F) of features (N, F), float64."""
    f = _np64(features)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need features (N >= 2, F), got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False, ddof=1).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64:

        ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sqrt(sigma1) sigma2 sqrt(sigma1))^(1/2))

    ``sqrt(sigma1)`` is the symmetric PSD square root (eigendecomposition); the trace term uses the
    eigenvalues of the symmetric PSD matrix ``sqrt(sigma1) sigma2 sqrt(sigma1)``, which equal those of
    ``sigma1 sigma2``, so it needs no non-symmetric matrix square root (stable for singular covariances).
    """
    m1, m2 = _np64(mu1).reshape(-1), _np64(mu2).reshape(-1)
    s1, s2 = _np64(sigma1), _np64(sigma2)
    if m1.shape != m2.shape or s1.shape != s2.shape or s1.shape != (m1.size, m1.size):
        raise ValueError(f"shape mismatch: mu {m1.shape}/{m2.shape}, sigma {s1.shape}/{s2.shape}")
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    w, v = np.linalg.eigh(s1)
    sqrt_s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = sqrt_s1 @ s2 @ sqrt_s1
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(ev, 0, None)).sum())
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


# ---- FID / KID / IS from features (torchmetrics) ---------------------------------------------------------
def fid_from_features(real: Tensor, fake: Tensor, features: str = "precomputed") -> Score:
    """FID between two feature sets (N, F) via torchmetrics' FrechetInceptionDistance."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        raise ValueError("FID needs at least 2 real and 2 generated samples")
    m = _quiet_metric(FrechetInceptionDistance, feature=_FeatureModule(None, num_features=real.shape[1]))
    m.update(real, real=True)
    m.update(fake, real=False)
    return Score("fid", float(m.compute()), len(real), len(fake), features)


def _kid_subset(n_real: int, n_fake: int, subset_size: Optional[int]) -> int:
    n = min(n_real, n_fake)
    if subset_size is None:  # half the set, so that subsets differ and the std means something
        subset_size = min(1000, max(2, n // 2))
    if not 2 <= subset_size <= n:
        raise ValueError(f"KID subset_size must be between 2 and {n} (the smaller set), got {subset_size}")
    return subset_size


def kid_from_features(real: Tensor, fake: Tensor, features: str = "precomputed", subset_size: Optional[int] = None,
                      subsets: int = 50, seed: int = 0) -> Score:
    """KID (mean ± std over random subsets) via torchmetrics' KernelInceptionDistance."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = _kid_subset(len(real), len(fake), subset_size)
    m = _quiet_metric(KernelInceptionDistance, feature=_FeatureModule(None, num_features=real.shape[1]),
                      subsets=subsets, subset_size=size)
    m.update(real, real=True)
    m.update(fake, real=False)
    with _isolated_rng(seed):
        mean, std = m.compute()
    return Score("kid", float(mean), len(real), len(fake), features, float(std), {"kid_subset_size": size})


def _is_splits(n: int, splits: Optional[int]) -> int:
    return splits if splits is not None else max(1, min(10, n // 100))


def inception_score_from_logits(logits: Tensor, features: str = "precomputed", splits: Optional[int] = None,
                                seed: int = 0) -> Score:
    """IS = exp(E KL(p(y|x) || p(y))) (mean ± std over splits) via torchmetrics' InceptionScore.

    ``logits`` (N, K) are (log-)probabilities up to a constant. ``splits`` defaults to N // 100
    (1..10): the score of a split is at most its size, so compare IS only at equal sample sizes."""
    from torchmetrics.image.inception import InceptionScore

    k = _is_splits(len(logits), splits)
    m = _quiet_metric(InceptionScore, feature=_FeatureModule(None, num_features=logits.shape[1]), splits=k)
    m.update(logits)
    with _isolated_rng(seed), warnings.catch_warnings():  # one split: torch warns about its std
        warnings.simplefilter("ignore", UserWarning)
        mean, std = m.compute()
    std_v = float(std) if k > 1 else 0.0
    return Score("is", float(mean), 0, len(logits), features, std_v, {"is_splits": k})


# ---- FID / KID / IS from images (torchmetrics with the extractor passed in) ------------------------------
def _batched_update(metric, images: Tensor, batch_size: int, **kw) -> None:
    for i in range(0, len(images), batch_size):
        metric.update(_as_uint8(images[i:i + batch_size]), **kw)


def compute_fid(real: Tensor, fake: Tensor, extractor: ExtractorLike = "faces", batch_size: int = 256) -> Score:
    """FID between real and generated images (float [-1, 1] or uint8, (N, C, H, W)); the extractor's
    features are what torchmetrics' FrechetInceptionDistance sees (``feature=`` a module wrapping it).
    Generated images are quantised to uint8 first, as saved images would be."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    ext = get_extractor(extractor)
    if len(real) < 2 or len(fake) < 2:
        raise ValueError("FID needs at least 2 real and 2 generated images")
    m = _quiet_metric(FrechetInceptionDistance, feature=_FeatureModule(ext, "features"))
    _batched_update(m, real, batch_size, real=True)
    _batched_update(m, fake, batch_size, real=False)
    return Score("fid", float(m.compute()), len(real), len(fake), ext.name)


def compute_kid(real: Tensor, fake: Tensor, extractor: ExtractorLike = "faces", subset_size: Optional[int] = None,
                subsets: int = 50, seed: int = 0, batch_size: int = 256) -> Score:
    """KID (polynomial-kernel MMD², mean ± std over ``subsets`` random subsets of ``subset_size``;
    default half the smaller set, at most 1000) via torchmetrics' KernelInceptionDistance."""
    from torchmetrics.image.kid import KernelInceptionDistance

    ext = get_extractor(extractor)
    size = _kid_subset(len(real), len(fake), subset_size)
    m = _quiet_metric(KernelInceptionDistance, feature=_FeatureModule(ext, "features"), subsets=subsets,
                      subset_size=size)
    _batched_update(m, real, batch_size, real=True)
    _batched_update(m, fake, batch_size, real=False)
    with _isolated_rng(seed):
        mean, std = m.compute()
    return Score("kid", float(mean), len(real), len(fake), ext.name, float(std), {"kid_subset_size": size})


def compute_is(images: Tensor, extractor: ExtractorLike = "faces", splits: Optional[int] = None, seed: int = 0,
               batch_size: int = 256) -> Score:
    """Inception Score of images via torchmetrics' InceptionScore, with the extractor's class
    probabilities (for several label groups, e.g. hair x eye: the joint distribution over all tag
    combinations, so at most 12 x 11 = 132 for faces; 10 for digits)."""
    from torchmetrics.image.inception import InceptionScore

    ext = get_extractor(extractor)
    k = _is_splits(len(images), splits)
    m = _quiet_metric(InceptionScore, feature=_FeatureModule(ext, "logits"), splits=k)
    _batched_update(m, images, batch_size)
    with _isolated_rng(seed), warnings.catch_warnings():  # one split: torch warns about its std
        warnings.simplefilter("ignore", UserWarning)
        mean, std = m.compute()
    return Score("is", float(mean), 0, len(images), ext.name, float(std) if k > 1 else 0.0, {"is_splits": k})


def diversity(features: Tensor, max_n: int = 512) -> float:
    """Mean pairwise L2 distance between the rows of ``features`` (N, F) (the first ``max_n``),
    pairs of distinct rows only. 0 when all samples look the same to the extractor."""
    f = features[:max_n].double()
    n = len(f)
    if n < 2:
        raise ValueError("diversity needs at least 2 samples")
    d = torch.cdist(f, f)
    return float(d.sum() / (n * (n - 1)))


def diversity_within(features: Tensor, labels: Tensor, group: Optional[int] = None) -> Optional[float]:
    """Mean, over the tag combinations (all label groups; or the classes of label group ``group``)
    that have at least 2 samples, of the diversity of those samples; None when none has 2.

    For a conditional G this catches what :func:`diversity` misses: a G that ignores z and draws one
    image per tag combination still looks diverse across tags, but its within-tags diversity is ~0.
    Use pixel features (:func:`pixel_features`) for it: a tag classifier's features hardly see what
    varies between images with the same tags."""
    y = labels.reshape(len(labels), -1).cpu()
    if group is not None:
        y = y[:, group:group + 1]
    combos, inverse = torch.unique(y, dim=0, return_inverse=True)
    vals = [diversity(features[inverse == c]) for c in range(len(combos)) if int((inverse == c).sum()) >= 2]
    return float(np.mean(vals)) if vals else None


def pixel_features(images: Tensor, size: int = 16) -> Tensor:
    """Images (uint8 or [-1, 1]) -> flattened float pixels at ``size`` px (area-averaged), (N, C*size*size)."""
    x = to_float(images) if images.dtype == torch.uint8 else images.float()
    if x.shape[-1] > size:
        x = F.adaptive_avg_pool2d(x, size)
    return x.flatten(1)
