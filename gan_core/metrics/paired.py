"""Judging an image-to-image generator (pix2pix) on held-out pairs: mean absolute error to the true
pictures, that of the mean picture (the baseline to beat), and FID between translated and true pictures.

    ref = paired_reference(dataset, extractor="faces", n=256)    # held-out pairs, their features once
    row = evaluate_translator(G, ref)                             # {"l1", "l1_mean_face", "l1_ratio", "fid", ...}

Errors are in grey levels / 255 (0 = identical, 1 = black vs white), averaged over pixels and channels.
The held-out pairs are those :func:`gan_core.pix2pix_step.split` keeps out of training.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from .scores import ExtractorLike, diversity, fid_from_features, get_extractor


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


def mean_abs_error(a: Tensor, b: Tensor) -> float:
    """Mean |a - b| / 255 over everything, for uint8 (or float 0..255) images."""
    return float((a.float() - b.float()).abs().mean() / 255.0)


def paired_reference(ds, extractor: Optional[ExtractorLike] = None, n: Optional[int] = None) -> PairedReference:
    """The held-out pairs of a :class:`~gan_core.data.edges.PairedDataset` (the first ``n`` of them), the
    mean of its training targets, and (with an ``extractor``) the targets' features."""
    from ..pix2pix_step import split

    train, held = split(len(ds))
    idx = torch.arange(held.start, held.stop) if held.stop > held.start else torch.arange(len(ds))
    idx = idx[:n] if n else idx
    mean_image = ds.images[train].float().mean(0)
    ref = PairedReference(ds.inputs[idx], ds.images[idx], mean_image, held.stop > held.start)
    if extractor is not None:
        ext = get_extractor(extractor)
        ref.features = ext.extract(ref.targets)[0]
        ref.extractor, ref.diversity = ext.name, diversity(ref.features) if len(idx) >= 2 else 0.0
    return ref


def evaluate_translator(G: nn.Module, ref: PairedReference, extractor: Optional[ExtractorLike] = None,
                        seed: int = 0) -> dict[str, Any]:
    """G on the reference's inputs (dropout noise fixed by ``seed``): a flat dict

        {"l1", "l1_mean_face", "l1_ratio", "n_pairs", "n_real", "n_fake" (all n), "held_out", ["fid",
         "features", "diversity", "diversity_real" with an extractor], ["l1_hints", "l1_hints_ratio",
         "hint_dabs" for a generator that takes colour hints], "eval_seconds", "label"}

    ``l1_ratio`` = l1 / l1_mean_face: below 0.5 means G's pictures are less than half as far from the
    truth as the mean picture is. Everything is from the edges alone; a hint generator is also judged with
    :func:`gan_core.data.hints.eval_hints` (8 dabs of 2 x 2 pixels of each true picture's colours): ``l1_hints``."""
    from ..data.hints import EVAL_DABS, eval_hints
    from ..translate import takes_hints, translate

    t0 = time.perf_counter()
    out = translate(G, ref.inputs, seed=seed)
    n = len(out)
    l1 = mean_abs_error(out, ref.targets)
    base = mean_abs_error(ref.mean_image.expand_as(ref.targets), ref.targets)
    ratio = (lambda v: v / base if base > 0 else float("nan"))  # noqa: E731
    row: dict[str, Any] = {"l1": l1, "l1_mean_face": base, "l1_ratio": ratio(l1),
                           "n_pairs": n, "n_real": n, "n_fake": n, "held_out": ref.held_out}
    text = (f"L1 {l1:.4f} (mean picture {base:.4f}, ratio {row['l1_ratio']:.2f})")
    if takes_hints(G):
        hinted = translate(G, ref.inputs, seed=seed, hints=eval_hints(ref.targets, seed=seed))
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
