"""The trainer's step strategies: how one batch is drawn, how D sees it, one D update and one G update, and
the sample grid. :class:`gan_core.train.trainer.Trainer` holds one (``trainer.strategy``), chosen by the arch's
``ArchSpec.step``; the trainer keeps everything else (devices, precision, control, logging, checkpoints).

A strategy's methods take the trainer as their first argument and keep no reference to it, so the speed
probe's shallow copies of a trainer (gan_core.train.speed) train their own networks with the same strategy.

* :class:`Step`: what every strategy shares: D's adversarial loss with the loss's penalty, and D's update
  with the loss's constraint (weight clipping).
* :class:`GanStep`: noise (and tags) to images; ACGAN / TAC-GAN tag heads; the mode-seeking term.
* ``gan_core.train.pix2pix_step.Pix2PixStep``: (edges, picture) pairs, the L1 term.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor, nn

from gan_core.models import latent
from gan_core.data.augment import augment, diff_augment
from gan_core.data.images import make_grid_uint8, scatter_image
from gan_core.losses import aux_loss, loss_scale, make_targets, mode_seeking_ratio


class Step:
    """The base of the step strategies (see the module docstring)."""

    name = ""

    def prepare(self, t: Any) -> None:
        """Called once in the trainer's setup, after the data and networks are in place."""

    def d_adversarial(self, t: Any, real: Tensor, fake: Tensor, cond: Optional[Tensor], real_out: Tensor,
                      fake_out: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """D's loss on (float) outputs for real and fake inputs, plus the loss's penalty at (real, fake,
        cond): (loss, logged terms). Patch outputs (B, P) take each sample's target for every patch."""
        lc, spec = t.cfg.loss, t.loss_spec
        real_t, fake_t = (t._shard(v) for v in make_targets(spec, lc, real.shape[0] * t.world, t.device, t.dev_gen))
        if real_out.dim() > 1:
            real_t, fake_t = real_t[:, None].expand_as(real_out), fake_t[:, None].expand_as(fake_out)
        loss = adv = spec.d_loss(real_out, fake_out, real_t, fake_t)
        out = {"d_adv": adv.detach()}
        if spec.penalty is not None:
            with t.autocast():
                pen = spec.penalty(t._D, real, fake, cond, lc, t.noise_gen, scale=loss_scale(t.scaler))
            loss = loss + spec.penalty_weight(lc) * pen.float()
            out["penalty"] = pen.detach()
        return loss, out

    def finish_d(self, t: Any, loss: Tensor, real_out: Tensor, fake_out: Tensor, out: dict) -> dict[str, Tensor]:
        """D's update, the loss's constraint (weight clipping), and what the curves show of D's outputs."""
        spec = t.loss_spec
        t._backward_step(loss, t.opt_d)
        if spec.d_constraint is not None:
            spec.d_constraint(t.D, t.cfg.loss)
        return {**out, "d_loss": loss.detach(), "d_real": spec.output_summary(real_out.detach()),
                "d_fake": spec.output_summary(fake_out.detach())}

    def finish_g(self, t: Any, loss: Tensor) -> None:
        """G's update (inside the trainer's frozen-D block), then the EMA copy."""
        t._backward_step(loss, t.opt_g)


class GanStep(Step):
    """Noise (and tags, for a conditional arch) to images or 2D points."""

    name = "gan"

    def batch(self, t: Any) -> tuple[Tensor, Optional[Tensor]]:
        """A random global batch (train.batch_size x processes, with replacement) from the in-memory data:
        x float on device, labels; each process then keeps its shard (``_shard``)."""
        B = t.cfg.train.batch_size * t.world
        idx = torch.randint(len(t.images), (B,), generator=t.gen, device=t.data_device)
        x = t.images[idx].to(t.device, non_blocking=True)
        y = t.labels[idx].to(t.device, non_blocking=True) if t.labels is not None else None
        if t.conv:
            x = x.float().div_(127.5).sub_(1.0)   # uint8 -> [-1, 1]
            dc = t.cfg.data
            if dc.augment_flip or dc.augment_rotate > 0:
                x = augment(x, dc.augment_flip, dc.augment_rotate, t.dev_gen)
            if t.mem_format is not None:
                x = x.contiguous(memory_format=t.mem_format)
        return x, y

    def D(self, t: Any, x: Tensor, y: Optional[Tensor], net: Optional[nn.Module] = None) -> tuple[Tensor, list[Tensor]]:
        """D (``net``: default ``D_fwd``) on DiffAugment-ed inputs (none when data.diffaugment is off)."""
        if t.diffaug:
            x = diff_augment(x, t.diffaug, t.noise_gen)
        return (net if net is not None else t.D_fwd)(x, y)

    def fake_inputs(self, t: Any, B: int, y: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        """z (B, z_dim) and the tags to ask G for, for a global batch of B. With the mode-seeking term on,
        the second half of each process's shard repeats its first half's tags, so samples i and i + b/2 of
        a shard of b differ only by z."""
        z = torch.randn(B, t.cfg.model.z_dim, generator=t.dev_gen, device=t.device)
        b = B // t.world
        if t.cfg.loss.ms_weight > 0 and y is not None and b >= 2:
            h, ys = b // 2, y.view(t.world, b, -1)
            y = torch.cat([ys[:, :h], ys[:, :h], ys[:, 2 * h:]], 1).view(B, -1)
        return z, y

    def d_step(self, t: Any, keep_fake: bool = False) -> dict[str, Tensor]:
        """One D update. With ``keep_fake`` the fake batch keeps its graph and is stashed (with its
        labels and z) so the following G step reuses it instead of running G again."""
        lc = t.cfg.loss
        x, y = t._batch()
        z, y_fake = self.fake_inputs(t, x.shape[0], y)
        x, y, z, y_fake = (t._shard(v) for v in (x, y, z, y_fake))   # this process's part
        with torch.set_grad_enabled(keep_fake), t.autocast():
            fake_g = t.G_fwd(z, y_fake)
        t._stash = (fake_g, y_fake, z) if keep_fake else None
        fake = fake_g.detach()
        with t.autocast():
            real_out, real_aux = t._D(x, y)
            fake_out, fake_aux = t._D(fake, y_fake)
        real_out, fake_out = real_out.float(), fake_out.float()
        loss, out = self.d_adversarial(t, x, fake, y, real_out, fake_out)
        if t.arch.tag_heads:
            G = t.n_groups
            aux = aux_loss(real_aux[:G], y)
            if lc.aux_on_fake:
                aux = aux + aux_loss(fake_aux[:G], y_fake)
            if t.arch.tag_heads > 1:  # the twin heads learn the tags of fakes (TAC-GAN)
                twin = aux_loss(fake_aux[G:], y_fake)
                aux = aux + twin
                out["twin_d"] = twin.detach()
            loss = loss + lc.aux_weight * aux
            out["aux_d"] = aux.detach()
        return self.finish_d(t, loss, real_out, fake_out, out)

    def g_step(self, t: Any) -> dict[str, Tensor]:
        lc = t.cfg.loss
        B = t.cfg.train.batch_size
        stash, t._stash = t._stash, None
        y = stash[1] if stash is not None else None
        if stash is None and t.labels is not None:
            idx = torch.randint(len(t.labels), (B * t.world,), generator=t.gen, device=t.data_device)
            y = t.labels[idx].to(t.device, non_blocking=True)
        with t._frozen_d():
            with t.autocast():
                if stash is not None:
                    fake, z = stash[0], stash[2]
                else:
                    z, y = (t._shard(v) for v in self.fake_inputs(t, B * t.world, y))
                    fake = t.G_fwd(z, y)
                if t.mem_format is not None:
                    fake = fake.contiguous(memory_format=t.mem_format)
                out, aux = t._D(fake, y, t.D)
            loss = t.loss_spec.g_loss(out.float(), lc)
            res = {"g_adv": loss.detach()}
            if t.arch.tag_heads:
                G = t.n_groups
                a = aux_loss(aux[:G], y)
                if t.arch.tag_heads > 1:  # TAC-GAN: match the real tag heads, not the twin (fake) heads
                    a = a - aux_loss(aux[G:], y)
                loss = loss + lc.aux_weight * a
                res["aux_g"] = a.detach()
            if lc.ms_weight > 0 and B >= 2:
                ms = mode_seeking_ratio(fake, z)
                loss = loss + lc.ms_weight / (ms + 1e-5)
                res["ms"] = ms.detach()
            self.finish_g(t, loss)
        if t.ema is not None:
            t.ema.update(t.G, t.step)
        res["g_loss"] = loss.detach()
        return res

    def sample_image(self, t: Any) -> np.ndarray:
        """Fixed-noise sample grid (images) or scatter plot (2D points) as (H, W, 3) uint8."""
        g = t.G_ema if t.G_ema is not None else t.G
        with t.autocast():
            x = latent.sample(g, len(t.fixed_z), z=t.fixed_z, labels=t.fixed_labels).images
        if t.spec.kind == "points":
            return scatter_image(x.numpy(), t.images[:2000].float().cpu().numpy())
        return make_grid_uint8(x, nrow=int(math.ceil(math.sqrt(len(x)))))
