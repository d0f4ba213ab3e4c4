"""Judging an image-to-image generator (pix2pix) on held-out pairs: mean absolute error to the true
pictures, that of the mean picture (the baseline to beat), and FID between translated and true pictures;
and what a sketch demo must do (issue 21): follow the drawing (:func:`edge_faithfulness`, the tolerant
:func:`edge_f1` of the output's Canny edges against the input edges) and take the asked colours
(:func:`tag_faithfulness`, the faces classifier on the outputs for the asked tags).

    ref = paired_reference(dataset, extractor="faces", n=256)    # held-out pairs, their features once
    row = evaluate_translator(G, ref)                             # {"l1", "l1_mean_face", "l1_ratio", "fid", ...}

Errors are in grey levels / 255 (0 = identical, 1 = black vs white), averaged over pixels and channels.
The held-out pairs are those :func:`gan_core.train.pix2pix_step.split` keeps out of training.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn
import torch.nn.functional as F

from gan_core.metrics.scores import ExtractorLike, diversity, fid_from_features, get_extractor


@dataclass
class PairedReference:
    """Held-out pairs and what is computed from them once."""

    inputs: Tensor                  # uint8 (n, 1, S, S) edges
    targets: Tensor                 # uint8 (n, C, S, S) true pictures
    mean_image: Tensor              # float (C, S, S) in [0, 255]: the mean of the training targets
    held_out: bool                  # False when the set was too small to hold pairs out (training pairs used)
    features: Optional[Tensor] = None   # extractor features of the targets (None: no FID)
    extractor: str = ""
    diversity: float = 0.0
    labels: Optional[Tensor] = None     # long (n, G): the true tags of the pairs (None: untagged data)


def mean_abs_error(a: Tensor, b: Tensor) -> float:
    """Mean |a - b| / 255 over everything, for uint8 (or float 0..255) images."""
    return float((a.float() - b.float()).abs().mean() / 255.0)


# ---- what a sketch demo must do: follow the drawing, take the asked colours ------------------------------
def _edge_mask(e: Tensor) -> Tensor:
    """Edge maps as bool (N, H, W): uint8 black-on-white (0 = edge, as gan_core.data.edges.canny makes them)
    or bool (True = edge), (N, 1, H, W) or (N, H, W)."""
    if e.dim() == 4:
        if e.shape[1] != 1:
            raise ValueError(f"expected one-channel edge maps, got {tuple(e.shape)}")
        e = e[:, 0]
    if e.dim() != 3:
        raise ValueError(f"expected edge maps (N, [1,] H, W), got {tuple(e.shape)}")
    return e if e.dtype == torch.bool else e < 128


def edge_f1(pred: Tensor, ref: Tensor, tolerance: int = 1) -> Tensor:
    """F1 of edge map ``pred`` against ``ref``, per image: float (N,). An edge pixel of one counts as matched
    when the other has an edge within ``tolerance`` pixels (a (2t+1) square: 1 = the 8 neighbours), as in
    the usual tolerant edge-detection scores. Precision: matched share of pred's edge pixels; recall: of
    ref's; F1 = 2PR / (P + R). Both empty: 1; one empty: 0."""
    p, r = _edge_mask(pred), _edge_mask(ref)
    if p.shape != r.shape:
        raise ValueError(f"edge maps differ in shape: {tuple(p.shape)} vs {tuple(r.shape)}")
    k = 2 * int(tolerance) + 1
    grow = lambda m: F.max_pool2d(m[:, None].float(), k, 1, int(tolerance))[:, 0] > 0 if tolerance else m  # noqa: E731
    np_, nr = p.flatten(1).sum(1).float(), r.flatten(1).sum(1).float()
    prec = (p & grow(r)).flatten(1).sum(1).float() / np_.clamp(min=1)
    rec = (r & grow(p)).flatten(1).sum(1).float() / nr.clamp(min=1)
    f1 = torch.where(prec + rec > 0, 2 * prec * rec / (prec + rec).clamp(min=1e-12), torch.zeros_like(prec))
    f1 = torch.where((np_ == 0) & (nr == 0), torch.ones_like(f1), f1)
    return torch.where((np_ == 0) ^ (nr == 0), torch.zeros_like(f1), f1)


def edge_faithfulness(pictures: Tensor, edges: Tensor, tolerance: int = 1) -> float:
    """Does a picture follow the drawing: the mean :func:`edge_f1` of the Canny edges of uint8 ``pictures``
    (N, C, S, S) (gan_core.data.edges.canny, as the training edges were made) against ``edges`` (N, 1, S, S)."""
    from gan_core.data.edges import canny

    return float(edge_f1(canny(pictures), edges, tolerance).mean())


def tag_faithfulness(pictures: Tensor, asked: Tensor, classifier: ExtractorLike = "faces") -> dict[str, float]:
    """Does a picture take the asked tags: the shipped classifier's verdict on uint8 ``pictures`` against the
    ``asked`` labels (N, G): {"<group>_accuracy": share right, ..., "tag_accuracy": all groups right}."""
    from gan_core.metrics.evaluate import accuracy_on

    sc = accuracy_on(pictures, asked, classifier)
    return {**sc.details, "tag_accuracy": sc.value}


def paired_reference(ds, extractor: Optional[ExtractorLike] = None, n: Optional[int] = None) -> PairedReference:
    """The held-out pairs of a :class:`~gan_core.data.edges.PairedDataset` (the first ``n`` of them), the
    mean of its training targets, and (with an ``extractor``) the targets' features."""
    from gan_core.train.pix2pix_step import split

    train, held = split(len(ds))
    idx = torch.arange(held.start, held.stop) if held.stop > held.start else torch.arange(len(ds))
    idx = idx[:n] if n else idx
    mean_image = ds.images[train].float().mean(0)
    ref = PairedReference(ds.inputs[idx], ds.images[idx], mean_image, held.stop > held.start,
                          labels=ds.labels[idx] if getattr(ds, "labels", None) is not None else None)
    if extractor is not None:
        ext = get_extractor(extractor)
        ref.features = ext.extract(ref.targets)[0]
        ref.extractor, ref.diversity = ext.name, diversity(ref.features) if len(idx) >= 2 else 0.0
    return ref


def evaluate_translator(G: nn.Module, ref: PairedReference, extractor: Optional[ExtractorLike] = None,
                        seed: int = 0) -> dict[str, Any]:
    """G on the reference's inputs (dropout noise fixed by ``seed``): a flat dict

        {"l1", "l1_mean_face", "l1_ratio", "n_pairs", "n_real", "n_fake" (all n), "held_out", ["edge_f1"
         for edge inputs], ["fid",
         "features", "diversity", "diversity_real" with an extractor], ["l1_hints", "l1_hints_ratio",
         "hint_dabs" for a generator that takes colour hints], "eval_seconds", "label"}

    ``l1_ratio`` = l1 / l1_mean_face: below 0.5 means G's pictures are less than half as far from the
    truth as the mean picture is. A generator that takes tags gets the pairs' true tags. Everything is
    from the edges alone; a hint generator is also judged with
    :func:`gan_core.data.hints.eval_hints` (8 dabs of 2 x 2 pixels of each true picture's colours): ``l1_hints``."""
    from gan_core.data.hints import EVAL_DABS, eval_hints
    from gan_core.img2img.translate import takes_hints, takes_tags, translate

    t0 = time.perf_counter()
    tags = ref.labels if takes_tags(G) else None         # a tag-conditional G gets the true tags
    if takes_tags(G) and tags is None:
        raise ValueError("this generator takes tags but the reference pairs have none")
    out = translate(G, ref.inputs, seed=seed, tags=tags)
    n = len(out)
    l1 = mean_abs_error(out, ref.targets)
    base = mean_abs_error(ref.mean_image.expand_as(ref.targets), ref.targets)
    ratio = (lambda v: v / base if base > 0 else float("nan"))  # noqa: E731
    row: dict[str, Any] = {"l1": l1, "l1_mean_face": base, "l1_ratio": ratio(l1),
                           "n_pairs": n, "n_real": n, "n_fake": n, "held_out": ref.held_out}
    if ref.inputs.shape[1] == 1:    # edge inputs: does the picture follow them
        row["edge_f1"] = edge_faithfulness(out, ref.inputs)
    text = (f"L1 {l1:.4f} (mean picture {base:.4f}, ratio {row['l1_ratio']:.2f})")
    if "edge_f1" in row:
        text += f" · edge F1 {row['edge_f1']:.2f}"
    if takes_hints(G):
        hinted = translate(G, ref.inputs, seed=seed, hints=eval_hints(ref.targets, seed=seed), tags=tags)
        row.update(l1_hints=mean_abs_error(hinted, ref.targets), hint_dabs=EVAL_DABS)
        row["l1_hints_ratio"] = ratio(row["l1_hints"])
        text += f" · with {EVAL_DABS} colour dabs: L1 {row['l1_hints']:.4f} (ratio {row['l1_hints_ratio']:.2f})"
    if extractor is not None and ref.features is not None and n >= 2:
        ext = get_extractor(extractor)
        f = ext.extract(out)[0]
        row.update(fid=fid_from_features(ref.features, f, ext.name).value, features=ext.name,
                   diversity=diversity(f), diversity_real=ref.diversity)
        text += f" · FID {row['fid']:.2f} ({ext.name} features)"
    text += f" · {n} {'held-out' if ref.held_out else 'training (too few to hold out)'} pairs"
    row["eval_seconds"] = round(time.perf_counter() - t0, 3)
    row["label"] = text
    return row
