"""The pix2pix side of the trainer (Isola et al. 2017): paired batches, the D and G steps with the L1 term,
and the input | output | target sample grid.

:class:`Pix2PixStep` is the step strategy (gan_core.train.steps) a :class:`gan_core.train.trainer.Trainer` holds for an
image-to-image arch (``ArchSpec.step`` "pix2pix"); everything else (control, logging, checkpoints, resume,
the speed probe's copies) stays the trainer's own.

* Data: a :class:`~gan_core.data.edges.PairedDataset`; ``images`` are the targets y, ``inputs`` the edges x.
  The last :func:`held_out_count` pairs are never trained on: the sample grid and the metrics
  (:mod:`gan_core.metrics.paired`) use them.
* D step: D sees (x, y) as real and (x, G(x)) as fake, one logit per patch; the loss's D term is averaged
  over patches (each patch gets the sample's target).
* G step: the loss's G term on D(x, G(x)) plus ``loss.l1_weight`` * mean |G(x) - y|. The logged extras are
  ``g_adv`` (the GAN term) and ``l1`` (the unweighted mean absolute error, in [-1, 1] pixel units).
* Noise: dropout in G (the paper's only noise), drawn from the global torch RNG that checkpoints save, so a
  resumed run repeats the uninterrupted one bit for bit.
* Tags (arch pix2pix-tags): G also gets each pair's true tags (the dataset's labels, e.g. hair and eye
  colours), in the D and G steps and in the grid; D does not see them (the L1 term ties colours to tags).
* Tag heads (arch pix2pix-acgan): D also has tag heads on the picture alone (cross-entropy on real pictures
  with their true tags, ``aux_d``), and G's loss adds ``loss.aux_weight`` * their cross-entropy for the
  asked tags on its outputs (``aux_g``). On a fraction :data:`ASK_OTHER` of each batch G is asked for
  random tags instead of the true ones; those pairs get no L1 term (there is no target) and no dabs (they
  would show the true colours), so the tags alone must carry the colours there. On the other pairs each
  tag group is dropped (-1, "unknown": a zero embedding) with chance ``loss.drop_tags``, so that G must
  also read the colour dabs.
* Colour hints (a dataset made with ``hints`` = K > 0, recorded as DataSpec.hint_dabs): each batch's pairs
  get up to K random dabs of their true colours (:func:`gan_core.data.hints.make_hints`, drawn from the
  trainer's data generator right after the batch indices) as 4 more input channels after the edges; the
  grid pairs get fixed ones (``train.seed``), shown painted over the edges.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from gan_core.data.augment import augment, diff_augment
from gan_core.data.images import make_grid_uint8, to_float
from gan_core.losses import aux_loss
from gan_core.train.steps import Step

ASK_OTHER = 0.5     # pix2pix-acgan: the part of each batch asked for random tags (adversarial + tag terms only)
GRID_PAIRS = 16     # pairs in the sample grid (fewer when train.grid_size is smaller)
MAX_HELD_OUT = 500  # pairs kept out of training for the grid and the metrics


def held_out_count(n: int) -> int:
    """Pairs kept out of training from a set of ``n``: a tenth, at most 500; none below 20 pairs."""
    return 0 if n < 20 else min(MAX_HELD_OUT, n // 10)


def split(n: int) -> tuple[slice, slice]:
    """(training pairs, held-out pairs) of a paired set of ``n``: the held-out ones are the last."""
    h = held_out_count(n)
    return slice(0, n - h), slice(n - h, n)


def grid_indices(n: int, k: int) -> Tensor:
    """Indices of the ``k`` pairs in the sample grid: held-out pairs first, training pairs if too few."""
    train, held = split(n)
    idx = list(range(held.start, held.stop))[:k]
    idx += list(range(train.start, train.stop))[:k - len(idx)]
    return torch.tensor(idx, dtype=torch.long)


def triptych(inputs: Tensor, outputs: Tensor, targets: Tensor) -> np.ndarray:
    """A grid of (input | output | target) triples, uint8 (k, C, S, S) each: one triple per cell, about
    as many cells across as down. (H, W, 3) uint8."""
    k = len(outputs)
    rgb = lambda t: t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t  # noqa: E731
    tiles = torch.stack([rgb(inputs), rgb(outputs), rgb(targets)], 1).reshape(3 * k, 3, *outputs.shape[-2:])
    return make_grid_uint8(tiles, nrow=3 * max(1, int(math.ceil(math.sqrt(k)))))


class Pix2PixStep(Step):
    """Paired batches, the D and G steps with the L1 term, the (input | output | target) grid (see the module
    docstring). Set by :meth:`prepare`: the paired inputs, the training split and the grid pairs."""

    name = "pix2pix"
    inputs: Tensor
    n_train: int
    hint_dabs: int
    grid_hints: Optional[Tensor]
    grid_pairs: tuple[Tensor, Tensor]
    grid_tags: Optional[Tensor]

    def prepare(self, t: Any) -> None:
        ds = t.dataset
        if getattr(ds, "inputs", None) is None:
            raise ValueError(f"model.arch '{t.cfg.model.arch}' needs paired images (inputs and targets), "
                             f"but dataset '{ds.name}' has targets only")
        self.inputs = ds.inputs.to(t.data_device)
        self.n_train = split(len(ds))[0].stop
        idx = grid_indices(len(ds), min(GRID_PAIRS, t.cfg.train.grid_size, len(ds)))
        self.grid_pairs = (ds.inputs[idx], ds.images[idx])
        self.hint_dabs, self.grid_hints = t.spec.hint_dabs, None
        if self.hint_dabs:
            from gan_core.data.hints import make_hints

            g = torch.Generator().manual_seed(t.cfg.train.seed)
            self.grid_hints = make_hints(ds.images[idx], g, self.hint_dabs)
        self.grid_tags = ds.labels[idx] if t.labels is not None else None   # the true tags (pix2pix-tags)
        note = (f"pix2pix: {self.n_train:,} training pairs; the last {len(ds) - self.n_train:,} are held out "
                "for the sample grid (input | output | target) and the metrics")
        if note not in ds.notes:
            ds.notes.append(note)

    def batch(self, t: Any) -> tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor]]:
        """A random global batch of training pairs (train.batch_size x processes, with replacement): targets
        y and edges x, float in [-1, 1] (flips and rotations move both alike), the pairs' true tags (long
        (B, G); None unless G takes tags) and the tags G is asked for: the true ones, or (tag heads only) random
        ones on about :data:`ASK_OTHER` of the pairs, whose dabs are then left out, and -1 (unknown) for a
        ``loss.drop_tags`` share of the other pairs' tag groups. Each process keeps its shard."""
        B = t.cfg.train.batch_size * t.world
        idx = torch.randint(self.n_train, (B,), generator=t.gen, device=t.data_device)
        y8, x8 = t.images[idx], self.inputs[idx]
        lab = ask = t.labels[idx] if t.labels is not None else None
        other = None
        if lab is not None and t.arch.tag_heads:   # ask for random tags on part of the batch
            other = torch.rand(B, generator=t.gen, device=t.data_device) < ASK_OTHER
            rnd = torch.stack([torch.randint(n, (B,), generator=t.gen, device=t.data_device)
                               for n in t.spec.num_classes], 1).to(lab.dtype)
            drop = torch.rand(lab.shape, generator=t.gen, device=t.data_device) < t.cfg.loss.drop_tags
            ask = torch.where(other[:, None], rnd, torch.where(drop, torch.full_like(lab, -1), lab))
        if self.hint_dabs:   # colour hints: dabs of the true colours, as channels after the edges
            from gan_core.data.hints import make_hints

            hints = make_hints(y8, t.gen, self.hint_dabs)
            if other is not None:
                hints[other] = 0                   # no dabs where G is asked for other tags
            x8 = torch.cat([x8, hints], 1)
        if lab is not None:
            lab, ask = lab.to(t.device, non_blocking=True), ask.to(t.device, non_blocking=True)
        y = to_float(y8.to(t.device, non_blocking=True))
        x = to_float(x8.to(t.device, non_blocking=True))
        dc = t.cfg.data
        if dc.augment_flip or dc.augment_rotate > 0:
            both = augment(torch.cat([x, y], 1), dc.augment_flip, dc.augment_rotate, t.dev_gen)
            x, y = both[:, :x.shape[1]], both[:, x.shape[1]:]
        if t.mem_format is not None:
            x, y = x.contiguous(memory_format=t.mem_format), y.contiguous(memory_format=t.mem_format)
        return y, x, lab, ask

    def G_on(self, t: Any, x: Tensor, lab: Optional[Tensor], net: Optional[Any] = None) -> Tensor:
        """G(edges[, tags]): the tags go in only for a generator that takes them."""
        g = net if net is not None else t.G_fwd
        return g(x) if lab is None else g(x, lab)

    def D(self, t: Any, y: Tensor, x: Optional[Tensor], net: Optional[Any] = None) -> tuple[Tensor, list[Tensor]]:
        """D on the pair (edges x, picture y): patch logits flattened to (B, P*P) and the tag heads' logits
        (one (B, n) per group; none without tag heads). The DiffAugment ops, when on, move the pair alike.
        The signature of the GAN step's ``D``, so the losses' penalties (which differentiate with respect to
        y) work unchanged."""
        if t.diffaug:
            both = diff_augment(torch.cat([x, y], 1), t.diffaug, t.noise_gen)
            x, y = both[:, :x.shape[1]], both[:, x.shape[1]:]
        out = (net if net is not None else t.D_fwd)(x, y)
        logits, aux = out if isinstance(out, tuple) else (out, [])
        return logits.flatten(1), aux

    def d_step(self, t: Any, keep_fake: bool = False) -> dict[str, Tensor]:
        y, x, lab, ask = (None if v is None else t._shard(v) for v in t._batch())
        with torch.set_grad_enabled(keep_fake), t.autocast():
            fake_g = self.G_on(t, x, ask)
        t._stash = (fake_g, x, y, lab, ask) if keep_fake else None
        fake = fake_g.detach()
        with t.autocast():
            real_out, real_aux = t._D(y, x)
            fake_out, fake_aux = t._D(fake, x)
        real_out, fake_out = real_out.float(), fake_out.float()
        loss, out = self.d_adversarial(t, y, fake, x, real_out, fake_out)
        if real_aux:   # tag heads: the true tags of real pictures (and, with loss.aux_on_fake, the asked ones)
            aux = aux_loss(real_aux, lab)
            if t.cfg.loss.aux_on_fake:
                aux = aux + aux_loss(fake_aux, ask)
            loss = loss + t.cfg.loss.aux_weight * aux
            out["aux_d"] = aux.detach()
        return self.finish_d(t, loss, real_out, fake_out, out)

    def g_step(self, t: Any) -> dict[str, Tensor]:
        lc = t.cfg.loss
        stash, t._stash = t._stash, None
        with t._frozen_d():   # no D weight grads needed in the G step
            with t.autocast():
                if stash is not None:
                    fake, x, y, lab, ask = stash
                else:
                    y, x, lab, ask = (None if v is None else t._shard(v) for v in t._batch())
                    fake = self.G_on(t, x, ask)
                out, aux = t._D(fake, x, t.D)
            adv = t.loss_spec.g_loss(out.float(), lc)
            err = (fake.float() - y.float()).abs()
            if t.arch.tag_heads and ask is not None:   # L1 only where G was asked for the true tags
                true = ((ask == lab) | (ask < 0)).all(1).to(err.dtype)[:, None, None, None].expand_as(err)
                l1 = (err * true).sum() / true.sum().clamp(min=1)
            else:
                l1 = err.mean()
            loss = adv + lc.l1_weight * l1
            res = {"g_adv": adv.detach(), "l1": l1.detach()}
            if aux:   # ask D's tag heads for the asked tags (not for dropped ones)
                a = aux_loss(aux, ask)
                loss = loss + lc.aux_weight * a
                res["aux_g"] = a.detach()
            self.finish_g(t, loss)
        if t.ema is not None:
            t.ema.update(t.G, t.step)
        return {**res, "g_loss": loss.detach()}

    def sample_image(self, t: Any) -> np.ndarray:
        """(input | output | target) triples of the grid pairs (held-out ones first) as (H, W, 3) uint8;
        G's dropout noise is fixed by ``train.seed`` and the global RNG is left as it was."""
        from gan_core.data.hints import hint_overlay
        from gan_core.img2img.translate import translate

        g = t.G_ema if t.G_ema is not None else t.G
        inputs, targets = self.grid_pairs
        with t.autocast():
            out = translate(g, inputs, seed=t.cfg.train.seed, hints=self.grid_hints, tags=self.grid_tags)
        return triptych(hint_overlay(inputs, self.grid_hints) if self.grid_hints is not None else inputs, out, targets)
