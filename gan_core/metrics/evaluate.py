"""Judging a generator: tag accuracy, classifier confidence and the whole evaluation row
(:func:`evaluate_generator`) against a cached :class:`RealReference`. Samples come from the one
sampling path, :func:`gan_core.models.latent.sample`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_core.models import latent
from gan_core.metrics.classifiers import ClassifierExtractor, FeatureExtractor, classifier_for, joint_log_probs, load_classifier
from gan_core.metrics.fidelity import diversity_ratio, prdc
from gan_core.metrics.scores import (ExtractorLike, Score, diversity, diversity_within, fid_from_features, get_extractor,
                     inception_score_from_logits, kid_from_features, pixel_features)

PRDC_K = 5   # neighbours for precision / recall / density / coverage (the papers' default)


def _samples(G: nn.Module, n: int, generator: Optional[torch.Generator], seed: int) -> tuple[Tensor, Optional[Tensor]]:
    """n samples: z, then random tags, from ``generator`` (else from ``seed``)."""
    s = latent.sample(G, n, generator=generator if generator is not None else latent.rng(seed))
    return s.images, s.labels


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
                 generator: Optional[torch.Generator] = None, *, seed: int = 0) -> Score:
    """How often a conditional G draws the tags it is asked for: sample n images with uniformly random
    tags, classify them with the shipped classifier and compare.

    Returns Score(metric="tag_accuracy", value=joint accuracy (every group right), n_fake=n,
    features="<name>-classifier", details={"<group>_accuracy": ..., e.g. hair_accuracy, eye_accuracy}).
    """
    ext = get_extractor(classifier)
    if not isinstance(ext, ClassifierExtractor):
        raise ValueError("tag_accuracy needs a classifier ('faces' or 'digits')")
    if not G.num_classes:
        raise ValueError("tag accuracy needs a conditional generator (cgan / acgan)")
    _check_groups(ext, spec)
    x, y = _samples(G, n, generator, seed)
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
                          threshold: float = 0.9) -> Score:
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
    x, y = _samples(G, n, generator, seed)
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
                       kid_subsets: int = 50) -> dict[str, Any]:
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
    x, y = _samples(G, n, generator, seed)
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
    from gan_core.data import load_dataset

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
