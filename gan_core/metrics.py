"""Sample-quality metrics: FID, KID, IS, tag accuracy, classifier confidence, diversity, and a
mode-collapse monitor; plus a job-manager listener that evaluates a training run as it goes.

Feature extractors (see :mod:`gan_core.classifiers`):

* ``load_classifier("faces" | "digits")``: small CNNs trained by the project and shipped as weights;
  their penultimate layer gives FID/KID features, their softmax IS / tag accuracy / confidence.
* :func:`inception_extractor`: torchmetrics' Inception v3 (needs ``torch-fidelity`` and a one-time
  weights download; raises :class:`MetricsUnavailable` when offline).

FID, KID and IS are computed by torchmetrics with the extractor passed in as ``feature=``; the
Fréchet distance also has an independent float64 implementation, :func:`frechet_distance`.

Every result states its sample size and its features: a :class:`Score` carries ``n_real``,
``n_fake`` and ``features`` (e.g. ``"faces-classifier"``); :meth:`Score.describe` writes them out.

For the Train page (UI API)::

    from gan_core.metrics import install_default_listeners, load_eval_metrics
    install_default_listeners(every_n_steps=500, n_samples=256)  # once per process; idempotent
    snap = job.snapshot()
    snap.extras.get("metrics", [])         # evaluation rows, oldest first (one per evaluated checkpoint)
    snap.extras.get("alerts", [])          # mode-collapse / D-saturation alerts
    snap.extras.get("metrics_status", [])  # why metrics are off / an evaluation failure
    load_eval_metrics(run_dir)             # the same rows from <run_dir>/eval_metrics.jsonl (no live job)

A "metrics" row: ``step``, ``n_real``, ``n_fake`` (sample sizes: show them), ``features`` (e.g.
"faces-classifier"), ``fid``, ``kid`` ± ``kid_std``, ``is`` ± ``is_std`` (``is_real``: the real
images' IS, the ceiling), ``diversity`` / ``diversity_real``, ``confidence``, for conditional runs
``tag_accuracy`` plus ``<group>_accuracy`` (``hair_accuracy``, ``eye_accuracy``, ``digit_accuracy``),
``label_confidence``, ``diversity_ratio`` (spread of samples with the same tags / that of real
images with those tags, in pixels: the "G ignores z" signal; ``diversity_ratio_features`` the same in
classifier features), ``precision`` / ``recall`` / ``density`` / ``coverage`` (k = 5, classifier
features), and ``label``: one ready-made line such as "FID 3.1 · KID 0.0123 · IS 40.2 (real 80.1) · tag accuracy
71.5% · 256 real vs 256 generated images, faces-classifier features". An "alerts" row: ``step``,
``kind`` ("mode_collapse" | "d_saturation"), ``message``. Evaluations happen at checkpoints, so a
run is evaluated every max(``every_n_steps``, ``train.checkpoint_every``) steps (rounded up to a
checkpoint) and at its end. See :class:`MetricsListener`.

Images are float tensors in [-1, 1] (generator output) or uint8 in [0, 255] (datasets), shaped
(B, C, H, W). Metric code never touches the global torch RNG (it matters to a trainer running in
the same thread): randomness comes from explicit generators / seeds.
"""
from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .classifiers import (CLASSIFIER_NAMES, ClassifierExtractor, ClassifierUnavailable, FeatureExtractor,
                          classifier_for, joint_log_probs, load_classifier)
from .data.images import to_float, to_uint8
from .fidelity import diversity_ratio, prdc

PRDC_K = 5   # neighbours for precision / recall / density / coverage (the papers' default)

__all__ = [
    "MetricsUnavailable", "Score", "FeatureExtractor", "load_classifier", "inception_extractor",
    "get_extractor", "frechet_distance", "feature_statistics", "fid_from_features", "kid_from_features",
    "inception_score_from_logits", "compute_fid", "compute_kid", "compute_is", "diversity",
    "diversity_within", "pixel_features", "sample_images", "tag_accuracy", "accuracy_on", "classifier_confidence", "label_confidence", "RealReference",
    "real_reference", "evaluate_generator", "ModeCollapseMonitor", "MetricsListener",
    "install_default_listeners", "ClassifierUnavailable", "load_eval_metrics", "EVAL_FILE",
]

ArrayLike = Union[Tensor, np.ndarray]
ExtractorLike = Union[str, FeatureExtractor]


class MetricsUnavailable(RuntimeError):
    """A metric cannot be computed here (e.g. Inception weights cannot be downloaded offline)."""


# ---- results ---------------------------------------------------------------------------------------
_LABELS = {"fid": "FID", "kid": "KID", "is": "IS", "tag_accuracy": "tag accuracy",
           "confidence": "classifier confidence", "diversity": "diversity", "accuracy": "accuracy"}


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
        name = _LABELS.get(self.metric, self.metric)
        pct = self.metric in ("tag_accuracy", "accuracy", "confidence")
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


# ---- sampling and judging generators -----------------------------------------------------------------
def _z_dim(G: nn.Module) -> int:
    z = getattr(G, "z_dim", None)
    if isinstance(z, int):
        return z
    cond = getattr(G, "cond", None)
    if cond is not None:
        return int(cond.out_dim - (cond.embed.out_dim if cond.embed is not None else 0))
    raise ValueError("cannot tell this generator's z_dim; pass z_dim=")


def _is_conditional_g(G: nn.Module) -> bool:
    if isinstance(getattr(G, "num_classes", None), tuple):
        return bool(G.num_classes)
    cond = getattr(G, "cond", None)
    return cond is not None and getattr(cond, "embed", None) is not None


def _device_of(G: nn.Module) -> torch.device:
    try:
        return next(G.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def sample_images(G: nn.Module, spec, n: int, generator: Optional[torch.Generator] = None, *, seed: int = 0,
                  labels: Optional[Tensor] = None, z_dim: Optional[int] = None, batch_size: int = 256
                  ) -> tuple[Tensor, Optional[Tensor]]:
    """n samples of G: (images float CPU (n, C, H, W) in [-1, 1], labels (n, G) or None).

    z and (for a conditional G) uniformly random tags come from ``generator`` (a CPU
    torch.Generator), else from ``seed``; z first, then one randint per label group. The global RNG
    is left as it was; G is put back in its train/eval mode."""
    from .latent import generate

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    g = generator if generator is not None else torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, z_dim or _z_dim(G), generator=g, device=g.device).cpu()
    if _is_conditional_g(G):
        if labels is None:
            if not spec.num_classes:
                raise ValueError("this generator is conditional but the data spec has no label groups")
            labels = torch.stack([torch.randint(k, (n,), generator=g, device=g.device).cpu()
                                  for k in spec.num_classes], dim=1)
    else:
        labels = None
    dev = _device_of(G)
    with _isolated_rng(None, dev):
        x = generate(G, z, labels, batch_size)
    return x, labels


def _check_groups(ext: FeatureExtractor, spec) -> None:
    if spec is not None and spec.num_classes and tuple(spec.num_classes) != tuple(ext.num_classes):
        raise ValueError(f"the {ext.name} judges label groups {ext.group_names} {ext.num_classes}, but the "
                         f"generator's data has {tuple(spec.group_names)} {tuple(spec.num_classes)}")


def _accuracy_score(pred: Tensor, labels: Tensor, ext: FeatureExtractor, n_real: int, n_fake: int) -> Score:
    ok = pred.eq(labels)
    details = {f"{g}_accuracy": float(ok[:, i].float().mean()) for i, g in enumerate(ext.group_names)}
    metric = "tag_accuracy" if n_fake else "accuracy"
    return Score(metric, float(ok.all(dim=1).float().mean()), n_real, n_fake, ext.name, details=details)


def accuracy_on(images: Tensor, labels: Tensor, classifier: ExtractorLike = "faces") -> Score:
    """Accuracy of a shipped classifier on labelled (real) images: joint (all groups right) as the
    value, ``<group>_accuracy`` per group in details; ``n_real`` = number of images."""
    ext = get_extractor(classifier)
    if not isinstance(ext, ClassifierExtractor):
        raise ValueError("accuracy_on needs a classifier ('faces' or 'digits')")
    labels = labels.reshape(len(labels), -1)
    return _accuracy_score(ext.predict(images), labels.cpu(), ext, len(images), 0)


def tag_accuracy(G: nn.Module, spec, classifier: ExtractorLike = "faces", n: int = 256,
                 generator: Optional[torch.Generator] = None, *, seed: int = 0, z_dim: Optional[int] = None,
                 batch_size: int = 256) -> Score:
    """How often a conditional G draws the tags it is asked for: sample n images with uniformly random
    tags, classify them with the shipped classifier and compare.

    Returns Score(metric="tag_accuracy", value=joint accuracy (every group right), n_fake=n,
    features="<name>-classifier", details={"<group>_accuracy": ..., e.g. hair_accuracy, eye_accuracy}).
    """
    ext = get_extractor(classifier)
    if not isinstance(ext, ClassifierExtractor):
        raise ValueError("tag_accuracy needs a classifier ('faces' or 'digits')")
    if not _is_conditional_g(G):
        raise ValueError("tag accuracy needs a conditional generator (cgan / acgan)")
    _check_groups(ext, spec)
    x, y = sample_images(G, spec, n, generator, seed=seed, z_dim=z_dim, batch_size=batch_size)
    return _accuracy_score(ext.predict(x), y, ext, 0, n)


def _confidence_details(logits: Sequence[Tensor], ext: FeatureExtractor, threshold: float) -> tuple[float, dict]:
    probs = [F.softmax(l.double(), dim=1) for l in logits]
    top = torch.stack([p.max(dim=1).values for p in probs], dim=1)     # (n, G)
    details: dict[str, Any] = {"confident_fraction": float((top >= threshold).all(dim=1).double().mean()),
                               "confidence_threshold": threshold}
    for i, g in enumerate(ext.group_names):
        pred = probs[i].argmax(1)
        details[f"{g}_confidence"] = float(top[:, i].mean())
        details[f"{g}_classes_seen"] = int(pred.unique().numel())   # mode coverage
    return float(top.mean()), details


def label_confidence(logits: Sequence[Tensor], labels: Tensor) -> float:
    """Mean over samples of the classifier's probability of the *requested* tags (product over label
    groups): ~1 when a conditional G draws clear members of the asked class, ~1/K when it ignores
    the label. Unlike the max-softmax confidence it cannot be fooled by a collapsed G drawing one
    clear class."""
    labels = labels.reshape(len(labels), -1).cpu()
    p = torch.ones(len(labels), dtype=torch.float64)
    for i, lg in enumerate(logits):
        p = p * F.softmax(lg.double(), dim=1).gather(1, labels[:, i:i + 1]).squeeze(1)
    return float(p.mean())


def classifier_confidence(G: nn.Module, spec, classifier: ExtractorLike = "digits", n: int = 256,
                          generator: Optional[torch.Generator] = None, *, seed: int = 0,
                          threshold: float = 0.9, z_dim: Optional[int] = None, batch_size: int = 256) -> Score:
    """Mean max-softmax probability of the shipped classifier on n samples of G (conditional or not):
    near 1 when samples look like clear members of some class, ~1/K for noise.

    Score(metric="confidence", value=mean over samples (and label groups), n_fake=n, details={
    "confident_fraction": share of samples with max prob >= threshold in every group,
    "<group>_confidence", "<group>_classes_seen" (distinct predicted classes: mode coverage),
    and for a conditional G "<group>_accuracy" / "accuracy" (predicted == requested) and
    "label_confidence" (mean probability of the requested tags, see :func:`label_confidence`)}).
    Note: a collapsed G drawing one clear class scores a high max-softmax confidence; judge
    conditional generators by accuracy / label_confidence and look at "<group>_classes_seen".
    """
    ext = get_extractor(classifier)
    _check_groups(ext, spec)
    x, y = sample_images(G, spec, n, generator, seed=seed, z_dim=z_dim, batch_size=batch_size)
    logits = ext.logits(x)
    value, details = _confidence_details(logits, ext, threshold)
    if y is not None and tuple(ext.num_classes) == tuple(spec.num_classes):
        acc = _accuracy_score(torch.stack([l.argmax(1) for l in logits], 1), y, ext, 0, n)
        details.update(acc.details, accuracy=acc.value, label_confidence=label_confidence(logits, y))
    return Score("confidence", value, 0, n, ext.name, details=details)


# ---- whole evaluation (listener, benchmarks) -------------------------------------------------------------
@dataclass
class RealReference:
    """Features of a fixed set of real images, computed once and reused at every evaluation."""

    features: Tensor            # (n, F)
    logits: list[Tensor]        # per group (n, K_g)
    n: int
    extractor: str
    diversity: float
    inception_score: float      # IS of the real images (same n: the ceiling to compare with)
    diversity_within: Optional[float] = None   # mean pixel diversity among images with the same tags
    labels: Optional[Tensor] = None            # (n, G) tags of the reference images, when labelled
    pixels: Optional[Tensor] = None            # (n, C*H*W) float pixels in [-1, 1], when labelled


def real_reference(images: Tensor, extractor: ExtractorLike, n: Optional[int] = None, seed: int = 0,
                   labels: Optional[Tensor] = None) -> RealReference:
    """Pick n real images (uniformly without replacement, seeded; all if n is None or larger) and
    compute their features once. With ``labels`` (N, G) it also records the within-tags pixel
    diversity (see :func:`diversity_within`)."""
    ext = get_extractor(extractor)
    if n is not None and n < len(images):
        idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
        images = images[idx]
        labels = labels[idx] if labels is not None else None
    f, lg = ext.extract(images)
    is_real = inception_score_from_logits(joint_log_probs(lg), ext.name, seed=seed).value if len(f) >= 2 else float("nan")
    labelled = labels is not None and labels.numel() > 0
    within = diversity_within(pixel_features(images), labels) if labelled else None
    pixels = pixel_features(images, size=images.shape[-1]) if labelled else None
    return RealReference(f, lg, len(f), ext.name, diversity(f) if len(f) >= 2 else 0.0, is_real, within,
                         labels.reshape(len(labels), -1).cpu() if labelled else None, pixels)


def evaluate_generator(G: nn.Module, spec, extractor: ExtractorLike, real: Union[RealReference, Tensor],
                       n: int = 256, generator: Optional[torch.Generator] = None, *, seed: int = 0,
                       z_dim: Optional[int] = None, kid_subsets: int = 50) -> dict[str, Any]:
    """Every metric of G in one pass over n samples (one classifier pass): a flat dict

        {"n_real", "n_fake", "features", "fid", "kid", "kid_std", "kid_subset_size", "is", "is_std",
         "is_splits", "is_real", "diversity", "diversity_real", ["diversity_within",
         "diversity_within_real", "diversity_ratio", "diversity_ratio_features" when G is conditional],
         "precision", "recall", "density", "coverage", "prdc_k", "confidence", "confident_fraction",
         "<group>_classes_seen", and for a conditional G judged by its classifier: "tag_accuracy",
         "<group>_accuracy", "label_confidence"; "eval_seconds", "label" (one line of text with the sample sizes)}.

    ``real``: a :class:`RealReference` (reuse it across calls) or real images (uint8 or [-1, 1]).
    """
    t0 = time.perf_counter()
    ext = get_extractor(extractor)
    ref = real if isinstance(real, RealReference) else real_reference(real, ext, None, seed)
    if ref.extractor != ext.name:
        raise ValueError(f"the real reference was computed with {ref.extractor}, not {ext.name}")
    x, y = sample_images(G, spec, n, generator, seed=seed, z_dim=z_dim)
    f, logits = ext.extract(x)
    row: dict[str, Any] = {"n_real": ref.n, "n_fake": n, "features": ext.name}
    row["fid"] = fid_from_features(ref.features, f, ext.name).value
    kid = kid_from_features(ref.features, f, ext.name, subsets=kid_subsets, seed=seed)
    row.update(kid=kid.value, kid_std=kid.std, kid_subset_size=kid.details["kid_subset_size"])
    isc = inception_score_from_logits(joint_log_probs(logits), ext.name, seed=seed)
    row.update({"is": isc.value, "is_std": isc.std, "is_splits": isc.details["is_splits"], "is_real": ref.inception_score})
    row.update(diversity=diversity(f), diversity_real=ref.diversity)
    if y is not None:
        row.update(diversity_within=diversity_within(pixel_features(x), y), diversity_within_real=ref.diversity_within)
        if ref.labels is not None and ref.labels.shape[1] == y.shape[1]:
            # spread of samples that share tags / that of real images with the same tags
            row["diversity_ratio"] = diversity_ratio(pixel_features(x, size=x.shape[-1]), y, ref.pixels, ref.labels)
            row["diversity_ratio_features"] = diversity_ratio(f, y, ref.features, ref.labels)
    if min(len(f), ref.n) > PRDC_K:
        row.update(prdc(ref.features, f, PRDC_K).to_dict())
    conf, details = _confidence_details(logits, ext, 0.9)
    row["confidence"] = conf
    row.update({k: v for k, v in details.items() if k != "confidence_threshold"})
    judged = isinstance(ext, ClassifierExtractor) and y is not None and tuple(spec.num_classes) == tuple(ext.num_classes)
    if judged:
        acc = _accuracy_score(torch.stack([l.argmax(1) for l in logits], 1), y, ext, 0, n)
        row["tag_accuracy"] = acc.value
        row.update(acc.details)
        row["label_confidence"] = label_confidence(logits, y)
    row["eval_seconds"] = round(time.perf_counter() - t0, 3)
    text = f"FID {row['fid']:.2f} · KID {row['kid']:.4f} · IS {row['is']:.2f} (real {row['is_real']:.2f})"
    if judged:
        text += f" · tag accuracy {100 * row['tag_accuracy']:.1f}%"
    if row.get("diversity_ratio") is not None:
        text += f" · same-tag diversity {row['diversity_ratio']:.2f} of real"
    if "recall" in row:
        text += f" · precision {row['precision']:.2f} / recall {row['recall']:.2f}"
    text += f" · {ref.n} real vs {n} generated images, {ext.name} features"
    row["label"] = text
    return row


JUDGED_KEYS = ("tag_accuracy", "diversity_ratio", "diversity_ratio_features", "precision", "recall", "density",
               "coverage", "fid", "kid", "n_real", "n_fake", "features")


def classifier_reference(data_cfg, n: int, seed: int = 0, spec=None, device: Union[str, torch.device] = "cpu"
                         ) -> tuple[ClassifierExtractor, RealReference]:
    """The shipped classifier for a dataset and the reference features of ``n`` of its real images
    (with their tags): what judging a faces or digits generator needs. ValueError when no shipped
    classifier judges that dataset."""
    from .data import load_dataset

    name = classifier_for(data_cfg.dataset, spec)
    if name is None:
        raise ValueError(f"no shipped classifier judges dataset '{data_cfg.dataset}' (faces and digits only)")
    ext = load_classifier(name, device)
    ds = load_dataset(data_cfg)
    return ext, real_reference(ds.images, ext, n, seed, labels=ds.labels)


def judged_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The headline fields of an :func:`evaluate_generator` row (plus each tag group's accuracy)."""
    out = {k: row[k] for k in JUDGED_KEYS if k in row}
    out.update({k: v for k, v in row.items() if k.endswith("_accuracy") and k not in out})
    return out


# ---- mode collapse ----------------------------------------------------------------------------------
BCE_LOSSES = ("minimax", "ns", "dragan")   # losses whose D outputs are probabilities (StepEvent d_real/d_fake)


class ModeCollapseMonitor:
    """Raises alerts (returned as strings, kept in ``alerts`` as dicts) when

    * **diversity drops**: sample diversity (mean pairwise feature distance) falls below
      ``drop_fraction`` of its running maximum (the first ``warmup`` observations only start the max:
      a fresh G's noise can look diverse), or below ``min_real_ratio`` x the real data's diversity;
    * **G ignores z** (conditional G): samples with the same tags spread less than ``min_tag_ratio``
      times as much as real images with those tags (:meth:`observe_diversity_ratio`);
    * **D saturates** (BCE losses only): D(x) > ``d_real_high`` and D(G(z)) < ``d_fake_low`` for
      ``patience`` log windows in a row: D wins outright and G gets no useful gradient.

    Each alert fires once per episode and re-arms when the condition clears.
    """

    def __init__(self, drop_fraction: float = 0.5, min_real_ratio: float = 0.25, warmup: int = 1,
                 patience: int = 3, d_real_high: float = 0.99, d_fake_low: float = 0.01, min_tag_ratio: float = 0.3):
        self.drop_fraction, self.min_real_ratio, self.warmup = drop_fraction, min_real_ratio, warmup
        self.min_tag_ratio = min_tag_ratio
        self._ignores_z = False
        self.patience, self.d_real_high, self.d_fake_low = patience, d_real_high, d_fake_low
        self.running_max: Optional[float] = None
        self.seen = 0
        self.saturated_windows = 0
        self._collapsed = self._saturated = False
        self.alerts: list[dict[str, Any]] = []

    def observe_diversity(self, step: int, value: float, real_value: Optional[float] = None,
                          what: str = "sample diversity") -> Optional[str]:
        """Feed one diversity measurement (always the same kind: ``what`` names it in the message);
        returns an alert message or None."""
        self.seen += 1
        if self.seen <= self.warmup:
            return None
        reasons = []
        if self.running_max is not None and value < self.drop_fraction * self.running_max:
            reasons.append(f"fell to {value:.3g}, {100 * value / self.running_max:.0f}% of its best so far "
                           f"({self.running_max:.3g})")
        if real_value and value < self.min_real_ratio * real_value:
            reasons.append(f"is {100 * value / real_value:.0f}% of the real images' diversity ({real_value:.3g})")
        self.running_max = value if self.running_max is None else max(self.running_max, value)
        if not reasons:
            self._collapsed = False
            return None
        if self._collapsed:
            return None
        self._collapsed = True
        msg = (f"possible mode collapse at step {step}: {what} " + " and ".join(reasons) +
               ". The samples are becoming alike; try a lower learning rate, more D steps, another loss "
               "(wgan-gp, hinge), spectral norm, or an earlier checkpoint.")
        self.alerts.append({"step": step, "kind": "mode_collapse", "message": msg, "diversity": value,
                            "running_max": self.running_max, "diversity_real": real_value})
        return msg

    def observe_diversity_ratio(self, step: int, ratio: float, what: str = "pixels") -> Optional[str]:
        """Feed one same-tag diversity ratio (generated spread / real spread among images with the
        same tags, :func:`gan_core.fidelity.diversity_ratio`); alerts when it is below
        ``min_tag_ratio``: G draws nearly one image per tag combination and ignores z. No warm-up:
        the ratio is already relative to real data."""
        if ratio >= self.min_tag_ratio:
            self._ignores_z = False
            return None
        if self._ignores_z:
            return None
        self._ignores_z = True
        msg = (f"mode collapse at step {step}: samples that share their tags differ only {ratio:.2f} times as "
               f"much as real images with those tags ({what}), so G ignores z: other seeds and interpolation "
               "will show the same face. Try the recommended recipe (projection D, hinge loss, spectral norm), "
               "the mode-seeking term (loss.ms_weight), TAC-GAN instead of ACGAN, or a lower aux_weight.")
        self.alerts.append({"step": step, "kind": "mode_collapse", "message": msg, "diversity_ratio": ratio})
        return msg

    def observe_d(self, step: int, d_real: float, d_fake: float) -> Optional[str]:
        """Feed one log window's mean D(x), D(G(z)) (probabilities); returns an alert message or None."""
        if d_real > self.d_real_high and d_fake < self.d_fake_low:
            self.saturated_windows += 1
        else:
            self.saturated_windows = 0
            self._saturated = False
        if self.saturated_windows < self.patience or self._saturated:
            return None
        self._saturated = True
        msg = (f"discriminator saturated at step {step}: D(x) = {d_real:.3f} and D(G(z)) = {d_fake:.4f} for "
               f"{self.saturated_windows} log windows in a row; G gets almost no gradient (often followed "
               "by collapse). Try label smoothing (loss.real_label=0.9), a lower D learning rate, or another loss.")
        self.alerts.append({"step": step, "kind": "d_saturation", "message": msg, "d_real": d_real, "d_fake": d_fake})
        return msg

    def observe_step_event(self, ev, loss_name: str) -> Optional[str]:
        """A StepEvent; D saturation is only judged for BCE losses (d_real/d_fake are probabilities)."""
        if loss_name not in BCE_LOSSES:
            return None
        return self.observe_d(ev.step, ev.d_real, ev.d_fake)


# ---- job-manager listener ------------------------------------------------------------------------------
EVAL_FILE = "eval_metrics.jsonl"
EXTRA_KEYS = ("metrics", "alerts", "metrics_status")


def load_eval_metrics(run_dir: Union[str, os.PathLike]) -> dict[str, list[dict[str, Any]]]:
    """What a :class:`MetricsListener` wrote to ``<run_dir>/eval_metrics.jsonl``, by kind:
    ``{"metrics": [...], "alerts": [...], "metrics_status": [...]}`` (oldest first; the rows are the
    same dicts as in ``job.snapshot().extras``). Missing file -> empty lists; lines cut short by a
    crash are skipped. Use it for finished runs / after a server restart (no live job)."""
    import json
    from pathlib import Path

    out: dict[str, list[dict[str, Any]]] = {k: [] for k in EXTRA_KEYS}
    try:
        text = (Path(run_dir) / EVAL_FILE).read_text()
    except OSError:
        return out
    for line in text.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and d.get("extra") in out and isinstance(d.get("row"), dict):
            out[d["extra"]].append(d["row"])
    return out


@dataclass
class _JobState:
    monitor: ModeCollapseMonitor
    last_eval_step: int = -1
    reference: Optional[RealReference] = None
    extractor: Optional[FeatureExtractor] = None
    skip: bool = False
    skip_reason: str = ""


class MetricsListener:
    """Evaluates running jobs; install with :func:`install_default_listeners` (or
    ``get_manager().add_listener(MetricsListener(...))``).

    Runs in the job's event thread: with the job manager's default "process" mode the trainer goes
    on in its own process while this evaluates; in "thread" mode the trainer waits (about 1-3 s for
    256 samples at 32 px on a CPU). What it does per event:

    * StepEvent (every log window): D-saturation check for BCE losses -> maybe an "alerts" row.
    * CheckpointEvent: if at least ``every_n_steps`` steps passed since the last evaluation (or it is
      the first checkpoint, or the final one of a step-limited run), loads G from that checkpoint
      (EMA weights when present), evaluates ``n_samples`` samples (fixed z and tags: the same at every
      evaluation) against ``n_samples`` real images with the dataset's classifier -> a "metrics"
      row; then the diversity check -> maybe an "alerts" row. Evaluations therefore happen at
      checkpoints only: set ``train.checkpoint_every`` to ``every_n_steps`` (or a divisor of it).
    * DoneEvent: evaluates the last checkpoint if it was not evaluated yet (time-limited / stopped runs).
    * StartEvent of a resumed run: drops rows of ``eval_metrics.jsonl`` after the resume step.

    Every row is published twice: ``job.add_extra(kind, row)`` (poll ``job.snapshot().extras[kind]``)
    and one JSON line ``{"extra": kind, "row": row}`` appended to ``<run_dir>/eval_metrics.jsonl`` (read with
    :func:`load_eval_metrics`). Kinds and fields:

    * ``"metrics"``: ``{"step", "checkpoint", "n_real", "n_fake", "features", "fid", "kid", "kid_std",
      "kid_subset_size", "is", "is_std", "is_splits", "is_real", "diversity", "diversity_real",
      ["diversity_within", "diversity_within_real" for a conditional G],
      "confidence", "confident_fraction", "<group>_confidence", "<group>_classes_seen",
      ["tag_accuracy", "<group>_accuracy", "label_confidence" for a conditional G], "eval_seconds", "label"}`` (see
      :func:`evaluate_generator`; "label" is one line of text with the sample sizes, ready to show).
    * ``"alerts"``: ``{"step", "kind": "mode_collapse" | "d_saturation", "message", ...}``.
    * ``"metrics_status"``: ``{"step", "message"}``: why metrics are off, or an evaluation failure
      (never raised: a metric failure must not stop training).

    Datasets: faces and digits (the shipped classifiers). Others use Inception when ``inception`` is
    True, or "auto" and a CUDA GPU is present, and its weights can be loaded; else they are skipped
    (one "metrics_status" row says why).
    """

    def __init__(self, every_n_steps: int = 500, n_samples: int = 256, seed: int = 0,
                 device: Union[str, torch.device] = "cpu", inception: Union[bool, str] = "auto",
                 monitor_factory: Callable[[], ModeCollapseMonitor] = ModeCollapseMonitor,
                 write_file: bool = True):
        if every_n_steps < 1 or n_samples < 8:
            raise ValueError("every_n_steps must be >= 1 and n_samples >= 8")
        self.every_n_steps, self.n_samples, self.seed = every_n_steps, n_samples, seed
        self.device = torch.device(device)
        self.inception = inception
        self.monitor_factory = monitor_factory
        self.write_file = write_file
        self._states: dict[int, _JobState] = {}
        self._lock = threading.Lock()

    def _state(self, job) -> _JobState:
        with self._lock:
            st = self._states.get(job.id)
            if st is None:
                st = self._states[job.id] = _JobState(self.monitor_factory())
            return st

    def _publish(self, job, kind: str, row: dict[str, Any]) -> None:
        job.add_extra(kind, row)
        if not self.write_file or getattr(job, "run_dir", None) is None:
            return
        import json
        from pathlib import Path

        try:
            p = Path(job.run_dir) / EVAL_FILE
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "a", encoding="utf-8") as f:
                f.write(json.dumps({"extra": kind, "row": row}, default=str) + "\n")
        except OSError as e:  # a full disk must not stop training; the in-memory row is there
            job.add_extra("metrics_status", {"step": row.get("step", 0), "message": f"cannot write {EVAL_FILE}: {e}"})

    def _truncate_file(self, job, start_step: int) -> None:
        """A fresh or resumed run: keep only rows up to the step it starts from."""
        if not self.write_file or getattr(job, "run_dir", None) is None:
            return
        import json
        from pathlib import Path

        from .fileio import atomic_write_text

        p = Path(job.run_dir) / EVAL_FILE
        if not p.exists():
            return
        kept = []
        for line in p.read_text().splitlines():
            try:
                if json.loads(line)["row"].get("step", 0) <= start_step:
                    kept.append(line)
            except (ValueError, AttributeError, KeyError, TypeError):
                continue
        atomic_write_text(p, "".join(k + "\n" for k in kept))

    def __call__(self, job, ev) -> None:
        from .events import CheckpointEvent, DoneEvent, StartEvent, StepEvent

        if isinstance(ev, StepEvent):
            st = self._state(job)
            msg = st.monitor.observe_step_event(ev, job.cfg.loss.name)
            if msg is not None:
                self._publish(job, "alerts", dict(st.monitor.alerts[-1]))
        elif isinstance(ev, StartEvent):
            try:
                self._truncate_file(job, ev.start_step)
            except OSError:
                pass
        elif isinstance(ev, CheckpointEvent):
            st = self._state(job)
            if ev.step == st.last_eval_step:  # never evaluate one step twice
                return
            total = job.cfg.train.steps
            due = st.last_eval_step < 0 or ev.step - st.last_eval_step >= self.every_n_steps
            if due or (total and ev.step >= total):
                self._evaluate(job, st, ev.path, ev.step)
        elif isinstance(ev, DoneEvent):
            st = self._state(job)
            if ev.last_checkpoint and ev.reason != "error" and st.last_eval_step != ev.step:
                self._evaluate(job, st, ev.last_checkpoint, ev.step)
            with self._lock:
                self._states.pop(job.id, None)

    # ---- evaluation ---------------------------------------------------------------------------------
    def _extractor_for(self, cfg, spec) -> tuple[Optional[FeatureExtractor], str]:
        name = classifier_for(cfg.data.dataset, spec)
        if name is not None:
            try:
                return load_classifier(name, self.device), ""
            except ClassifierUnavailable as e:
                return None, str(e)
        if spec.kind != "image":
            return None, "no image metrics for 2D point data"
        use = self.inception is True or (self.inception == "auto" and self.device.type == "cuda")
        if not use:
            return None, (f"no shipped classifier for dataset '{cfg.data.dataset}' and Inception is off "
                          "here (it is slow on a CPU)")
        try:
            return inception_extractor(self.device), ""
        except MetricsUnavailable as e:
            return None, str(e)

    def _evaluate(self, job, st: _JobState, path: str, step: int) -> None:
        if st.skip:
            return
        st.last_eval_step = step
        try:
            from .checkpoint import load_generator
            from .data import load_dataset

            G, cfg, spec = load_generator(path, device=self.device)
            if st.reference is None:
                ext, why = self._extractor_for(cfg, spec)
                if ext is None:
                    st.skip, st.skip_reason = True, why
                    self._publish(job, "metrics_status", {"step": step, "message": f"metrics off: {why}"})
                    return
                ds = load_dataset(cfg.data)
                st.extractor = ext
                labels = ds.labels if spec.num_classes and ds.labels is not None and ds.labels.numel() else None
                st.reference = real_reference(ds.images, ext, self.n_samples, self.seed, labels=labels)
            g = torch.Generator().manual_seed(self.seed + 1)  # the same z and tags at every evaluation
            row = evaluate_generator(G, spec, st.extractor, st.reference, self.n_samples, g, seed=self.seed)
        except Exception as e:  # a metric failure must never stop training
            self._publish(job, "metrics_status",
                          {"step": step, "message": f"evaluation failed: {type(e).__name__}: {e}"})
            return
        kept = os.path.join(os.path.dirname(path), f"step_{step:07d}.pt")  # last.pt is overwritten later
        row = {"step": step, "checkpoint": kept if os.path.exists(kept) else path, **row}
        self._publish(job, "metrics", row)
        if row.get("diversity_ratio") is not None:
            # conditional G: spread among samples asked for the same tags vs real ones (a G ignoring z)
            msg = st.monitor.observe_diversity_ratio(step, row["diversity_ratio"])
        elif row.get("diversity_within") is not None and row.get("diversity_within_real"):
            # conditional G: diversity among samples asked for the same tags (catches a G ignoring z)
            msg = st.monitor.observe_diversity(step, row["diversity_within"], row["diversity_within_real"],
                                               "the diversity of samples with the same tags")
        else:
            msg = st.monitor.observe_diversity(step, row["diversity"], row["diversity_real"])
        if msg is not None:
            self._publish(job, "alerts", dict(st.monitor.alerts[-1]))


_DEFAULT_LISTENER: Optional[MetricsListener] = None
_DEFAULT_LOCK = threading.Lock()


def install_default_listeners(manager=None, every_n_steps: int = 500, n_samples: int = 256, **kwargs: Any) -> MetricsListener:
    """Attach a :class:`MetricsListener` to the job manager (default: ``get_manager()``) once; calling
    it again returns the listener already attached (safe to call on every Streamlit rerun; the
    arguments of later calls are ignored). ``kwargs`` go to :class:`MetricsListener` (seed, device,
    inception, write_file). Results: ``job.snapshot().extras["metrics" | "alerts" |
    "metrics_status"]`` and ``<run_dir>/eval_metrics.jsonl`` (:func:`load_eval_metrics`)."""
    global _DEFAULT_LISTENER
    if manager is None:
        from .jobs import get_manager

        manager = get_manager()
    with _DEFAULT_LOCK:
        for fn in manager.listeners:
            if isinstance(fn, MetricsListener):
                return fn
        listener = MetricsListener(every_n_steps=every_n_steps, n_samples=n_samples, **kwargs)
        manager.add_listener(listener)
        _DEFAULT_LISTENER = listener
        return listener
