"""The GAN trainer: a generator of typed events.

    trainer = Trainer(cfg, out_dir="runs/x")
    for ev in trainer.run():          # StartEvent, StepEvent, SampleEvent, CheckpointEvent, ...
        ...

Device and RNG are explicit: ``device=`` (default from ``cfg.train.device``) and one
``torch.Generator`` seeded from ``cfg.train.seed`` drives data order, z, label noise, augmentation
and penalties; the global torch RNG (used by dropout) is seeded too and saved in checkpoints, so a
resumed run reproduces the uninterrupted one. A :class:`TrainControl` (thread-safe) pauses, stops,
and changes learning rates / n_critic while the run goes on.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from .checkpoint import load_checkpoint, save_checkpoint
from .speed import Option, ProbeResult, candidate_options, load_cached, machine_name, probe, store_cached
from .fileio import atomic_write_text, remove_stale_temp_files
from .config import RunConfig
from .data import ImageDataset, load_dataset
from .data.augment import augment, diff_augment, parse_policy
from .data.images import make_grid_uint8, save_png, scatter_image
from .events import (CheckpointEvent, DoneEvent, ErrorEvent, Event, SampleEvent, StartEvent, StatusEvent,
                     StepEvent)
from .losses import LossSpec, aux_loss, dragan_penalty, get_loss, gradient_penalty, make_targets
from .models import ARCHITECTURES, DataSpec, build_models, count_params, is_conditional


SMALL_DATA = 2000   # fewer training images than this: suggest DiffAugment


class TrainControl:
    """Thread-safe handle to steer a running trainer from another thread (UI, job manager)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._updates: dict[str, Any] = {}

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def wait_resumed(self, timeout: float) -> bool:
        return self._resume.wait(timeout)

    def set_lr(self, lr_g: Optional[float] = None, lr_d: Optional[float] = None) -> None:
        for name, v in (("lr_g", lr_g), ("lr_d", lr_d)):
            if v is not None:
                if not (isinstance(v, (int, float)) and 0 < v <= 1):
                    raise ValueError(f"{name} must be in (0, 1], got {v!r}")
                with self._lock:
                    self._updates[name] = float(v)

    def set_n_critic(self, n: int) -> None:
        if not (isinstance(n, int) and 1 <= n <= 100):
            raise ValueError(f"n_critic must be an integer in 1..100, got {n!r}")
        with self._lock:
            self._updates["n_critic"] = n

    def take_updates(self) -> dict[str, Any]:
        with self._lock:
            u, self._updates = self._updates, {}
        return u


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device is 'cuda' but no CUDA GPU is available; use 'cpu' or 'auto'")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("train.device is 'mps' but Apple MPS is not available; use 'cpu' or 'auto'")
    return torch.device(name)


def _due(step: int, every_steps: int, run_time: float, mark: float, every_s: float,
         end: float = 0.0) -> tuple[bool, float]:
    """Whether a periodic action (grid, checkpoint) is due after ``step``: every ``every_steps`` steps,
    and each time the run time passes ``mark`` (then the next mark is the following multiple of
    ``every_s``). A clock mark reached at the time limit ``end`` is left to the end-of-run action.
    Returns (due, next mark)."""
    due = bool(every_steps) and step % every_steps == 0
    if run_time >= mark:
        mark = (run_time // every_s + 1) * every_s
        due = not (end and run_time >= end)
    return due, mark


def fixed_grid_labels(spec: DataSpec, n: int) -> Optional[Tensor]:
    """Labels for the fixed sample grid: group 0 varies along rows, group 1 along columns."""
    if not spec.num_classes:
        return None
    ncol = max(1, int(math.ceil(math.sqrt(n))))
    i = torch.arange(n)
    cols = [(i // ncol) % spec.num_classes[0]]
    if len(spec.num_classes) > 1:
        cols.append((i % ncol) % spec.num_classes[1])
    cols += [torch.zeros(n, dtype=torch.long)] * (len(spec.num_classes) - len(cols))
    return torch.stack(cols, dim=1)


class Trainer:
    # The G step reuses the last critic step's fake batch and its graph (as pytorch/examples' DCGAN
    # does): G does not change between the two, so this saves one G forward per step for every loss.
    reuse_fake: bool = True

    def __init__(self, cfg: RunConfig, out_dir: Optional[Union[str, os.PathLike]] = None, *,
                 device: Optional[Union[str, torch.device]] = None, dataset: Optional[ImageDataset] = None,
                 resume: Optional[Union[str, os.PathLike]] = None, control: Optional[TrainControl] = None,
                 generator: Optional[torch.Generator] = None) -> None:
        """``resume``: a checkpoint path; its config is used, except ``train.steps``/``train.seconds``
        and the sampling/checkpoint intervals, which come from ``cfg``."""
        self.resume_state = load_checkpoint(resume) if resume is not None else None
        if self.resume_state is not None:
            saved: RunConfig = self.resume_state["run_config"]
            keep = {k: getattr(cfg.train, k) for k in ("steps", "seconds", "log_every", "sample_every",
                                                        "checkpoint_every", "keep_checkpoints", "device")}
            cfg = saved.replace(train=keep)
        self.cfg = cfg.validate()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.device = torch.device(device) if device is not None else resolve_device(cfg.train.device)
        self.dataset = dataset
        self.control = control or TrainControl()
        self.loss_spec: LossSpec = get_loss(cfg.loss.name)
        self._user_generator = generator
        self.step = 0
        self.elapsed = 0.0
        self.last_checkpoint: Optional[str] = None
        self._saved_step = -1  # step of the newest checkpoint written by this run

    # ---- setup ---------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg, dev = self.cfg, self.device
        tc = cfg.train
        if self.dataset is None:
            self.dataset = load_dataset(cfg.data)
        ds = self.dataset
        if len(ds) == 0:
            raise ValueError("the dataset is empty")
        self.spec = DataSpec.from_dataset(ds)
        tag_notes = [n for n in ds.notes if n.startswith("tags from")]
        if is_conditional(cfg.model.arch) and not self.spec.num_classes and tag_notes:  # say why
            raise ValueError(f"model.arch '{cfg.model.arch}' is conditional but the images have no labels: {tag_notes[0]}")
        if self.resume_state is not None:
            saved_spec = DataSpec.from_dict(self.resume_state["data_spec"])
            if (saved_spec.kind, saved_spec.channels, saved_spec.image_size, saved_spec.num_classes) != (
                    self.spec.kind, self.spec.channels, self.spec.image_size, self.spec.num_classes):
                raise ValueError(f"the checkpoint was trained on data shaped {saved_spec}, but the data is {self.spec}")
        self.conditional = is_conditional(cfg.model.arch)
        conditioning = ARCHITECTURES[cfg.model.arch].conditioning
        self.acgan = conditioning in ("acgan", "tacgan")   # D has tag heads
        self.twin = conditioning == "tacgan"                # ... and twin heads trained on fakes
        self.n_groups = len(self.spec.num_classes)
        torch.manual_seed(tc.seed)  # init weights + dropout stream
        self.G, self.D = build_models(cfg.model, self.spec, gradient_penalty=self.loss_spec.penalty is not None)
        self.params_g, self.params_d = count_params(self.G), count_params(self.D)
        self.conv = self.spec.kind == "image"
        self.diffaug = parse_policy(cfg.data.diffaugment) if self.conv else ()
        self.mem_format = None
        self.amp_dtype: Optional[torch.dtype] = None
        self.autocast: Callable[[], Any] = nullcontext
        self.scaler: Optional[torch.amp.GradScaler] = None
        for m in (self.G, self.D):
            m.to(dev)
        self.G_ema = None
        self.n_critic = tc.n_critic
        self._stash: Optional[tuple[Tensor, Optional[Tensor], Tensor]] = None
        # data stays where it is small enough to live: on the GPU when there is one
        on_dev = dev.type != "cpu" and ds.images.numel() * ds.images.element_size() < 2 * 1024**3
        self.data_device = dev if on_dev else torch.device("cpu")
        self.images = ds.images.to(self.data_device)
        self.labels = ds.labels.to(self.data_device) if (ds.labels is not None and self.conditional) else None
        self.gen = self._user_generator or torch.Generator(device=self.data_device)
        if self._user_generator is None:
            self.gen.manual_seed(tc.seed)
        self.dev_gen = self.gen if self.gen.device == dev else torch.Generator(device=dev).manual_seed(tc.seed + 1)
        # precision and memory layout: the fastest of the allowed options, timed on this machine
        self.speed = self._probe_speed()
        self._use_option(self.speed.chosen)
        if self.mem_format is not None:
            for m in (self.G, self.D):
                m.to(memory_format=self.mem_format)
        self.opt_g = self._make_opt(self.G, tc.lr_g)   # after the layout change: it may replace the parameters
        self.opt_d = self._make_opt(self.D, tc.lr_d)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if tc.ema_decay > 0 else None
        g_fixed = torch.Generator().manual_seed(tc.seed + 12345)  # same grid z for every run with this seed
        n_grid = 512 if self.spec.kind == "points" else tc.grid_size
        self.fixed_z = torch.randn(n_grid, cfg.model.z_dim, generator=g_fixed)
        self.fixed_labels = fixed_grid_labels(self.spec, n_grid) if self.conditional else None
        if self.resume_state is not None:
            self._load_state(self.resume_state)

    def _use_option(self, opt: Option) -> None:
        """Switch this trainer to a precision / layout option (autocast, grad scaler, memory format)."""
        dev = self.device
        self.mem_format = torch.channels_last if opt.channels_last else None
        amp_dtype = self.amp_dtype = opt.dtype
        self.autocast = (lambda: torch.autocast(dev.type, dtype=amp_dtype)) if amp_dtype is not None else nullcontext
        self.scaler = torch.amp.GradScaler(dev.type) if amp_dtype == torch.float16 else None

    def _probe_speed(self) -> ProbeResult:
        """Time a few steps of each allowed precision / layout on copies of G and D (own RNG; the run
        is untouched) and return the fastest; cached per machine and network shape."""
        tc, dev = self.cfg.train, self.device
        options = candidate_options(dev, tc.amp, tc.channels_last, self.conv)
        if len(options) == 1:
            return ProbeResult(options[0], {}, machine_name(dev), False, 0)
        shape = json.dumps({"model": dataclasses.asdict(self.cfg.model), "loss": self.cfg.loss.name,
                            "ms": self.cfg.loss.ms_weight > 0, "n_critic": self.n_critic, "batch": tc.batch_size,
                            "spec": [self.spec.channels, self.spec.image_size, list(self.spec.num_classes)],
                            "diffaug": self.cfg.data.diffaugment, "threads": torch.get_num_threads(),
                            "device": dev.type}, sort_keys=True)
        cache = Path(self.cfg.data.cache_dir) / "speed_probe.json"
        cached = load_cached(cache, dev, shape)
        if cached is not None and cached.chosen in options:
            return cached
        clones: dict[str, Trainer] = {}
        for o in options:
            p = copy.copy(self)
            p.G, p.D, p.G_ema, p._stash = copy.deepcopy(self.G), copy.deepcopy(self.D), None, None
            p._use_option(o)
            if p.mem_format is not None:
                p.G.to(memory_format=p.mem_format)
                p.D.to(memory_format=p.mem_format)
            p.opt_g, p.opt_d = p._make_opt(p.G, tc.lr_g), p._make_opt(p.D, tc.lr_d)
            p.gen = torch.Generator(device=self.data_device).manual_seed(1)
            p.dev_gen = p.gen if p.gen.device == dev else torch.Generator(device=dev).manual_seed(2)
            clones[o.label] = p

        def one_step(o: Option) -> None:
            p = clones[o.label]
            for i in range(p.n_critic):
                p._d_step(keep_fake=i == p.n_critic - 1)
            p._g_step()

        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            result = probe(options, one_step, dev)
        store_cached(cache, dev, shape, result)
        return result

    def _make_opt(self, m: nn.Module, lr: float) -> torch.optim.Optimizer:
        tc = self.cfg.train
        if tc.optimizer == "rmsprop":
            return torch.optim.RMSprop(m.parameters(), lr=lr)
        return torch.optim.Adam(m.parameters(), lr=lr, betas=(tc.beta1, tc.beta2))

    # ---- state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "gen": self.gen.get_state()}
        if self.dev_gen is not self.gen:
            rng["dev_gen"] = self.dev_gen.get_state()
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "config": self.cfg.to_json(), "data_spec": self.spec.to_dict(), "step": self.step,
            "elapsed": self.elapsed, "G": self.G.state_dict(), "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "n_critic": self.n_critic, "lr_g": self._lr(self.opt_g), "lr_d": self._lr(self.opt_d),
            "rng": rng, "fixed_z": self.fixed_z,
            "fixed_labels": self.fixed_labels,
        }

    def _load_state(self, st: dict[str, Any]) -> None:
        self.G.load_state_dict(st["G"])
        self.D.load_state_dict(st["D"])
        if self.G_ema is not None and st.get("G_ema") is not None:
            self.G_ema.load_state_dict(st["G_ema"])
        self.opt_g.load_state_dict(st["opt_g"])
        self.opt_d.load_state_dict(st["opt_d"])
        if self.scaler is not None and st.get("scaler"):
            self.scaler.load_state_dict(st["scaler"])
        self.step, self.elapsed = int(st["step"]), float(st.get("elapsed", 0.0))
        self.n_critic = int(st.get("n_critic", self.n_critic))
        self._set_lr(self.opt_g, float(st.get("lr_g", self._lr(self.opt_g))))
        self._set_lr(self.opt_d, float(st.get("lr_d", self._lr(self.opt_d))))
        rng = st["rng"]
        torch.set_rng_state(rng["torch"])
        self.gen.set_state(rng["gen"])
        if "dev_gen" in rng and self.dev_gen is not self.gen:
            self.dev_gen.set_state(rng["dev_gen"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        self.fixed_z = st["fixed_z"]
        self.fixed_labels = st.get("fixed_labels")

    @staticmethod
    def _lr(opt: torch.optim.Optimizer) -> float:
        return float(opt.param_groups[0]["lr"])

    @staticmethod
    def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
        for g in opt.param_groups:
            g["lr"] = lr

    # ---- one step ------------------------------------------------------------------------------
    def _batch(self) -> tuple[Tensor, Optional[Tensor]]:
        """A random batch (with replacement) from the in-memory data: x float on device, labels."""
        B = self.cfg.train.batch_size
        idx = torch.randint(len(self.images), (B,), generator=self.gen, device=self.data_device)
        x = self.images[idx].to(self.device, non_blocking=True)
        y = self.labels[idx].to(self.device, non_blocking=True) if self.labels is not None else None
        if self.conv:
            x = x.float().div_(127.5).sub_(1.0)   # uint8 -> [-1, 1]
            dc = self.cfg.data
            if dc.augment_flip or dc.augment_rotate > 0:
                x = augment(x, dc.augment_flip, dc.augment_rotate, self.dev_gen)
            if self.mem_format is not None:
                x = x.contiguous(memory_format=self.mem_format)
        return x, y

    def _z(self, n: int) -> Tensor:
        return torch.randn(n, self.cfg.model.z_dim, generator=self.dev_gen, device=self.device)

    def _backward_step(self, loss: Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            opt.step()

    def _D(self, x: Tensor, y: Optional[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """D on DiffAugment-ed inputs (plain D when data.diffaugment is off); real and fake alike."""
        if self.diffaug:
            x = diff_augment(x, self.diffaug, self.dev_gen)
        return self.D(x, y)

    def _fake_inputs(self, B: int, y: Optional[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        """z (B, z_dim) and the tags to ask G for. With the mode-seeking term on, the second half of
        the batch repeats the first half's tags, so samples i and i + B/2 differ only by z."""
        z = self._z(B)
        if self.cfg.loss.ms_weight > 0 and y is not None and B >= 2:
            h = B // 2
            y = torch.cat([y[:h], y[:h], y[2 * h:]])
        return z, y

    def _mode_seeking(self, fake: Tensor, z: Tensor) -> Tensor:
        """MSGAN ratio mean_i |G(z_i) - G(z_i')| / |z_i - z_i'| over the pairs (i, i + B/2)."""
        h = fake.shape[0] // 2
        dx = (fake[:h].float() - fake[h:2 * h].float()).abs().flatten(1).mean(1)
        dz = (z[:h] - z[h:2 * h]).abs().mean(1)
        return (dx / dz).mean()

    def _d_step(self, keep_fake: bool = False) -> dict[str, Tensor]:
        """One D update. With ``keep_fake`` the fake batch keeps its graph and is stashed (with its
        labels and z) so the following G step reuses it instead of running G again."""
        lc, spec = self.cfg.loss, self.loss_spec
        x, y = self._batch()
        B = x.shape[0]
        z, y_fake = self._fake_inputs(B, y)
        with torch.set_grad_enabled(keep_fake), self.autocast():
            fake_g = self.G(z, y_fake)
        self._stash = (fake_g, y_fake, z) if keep_fake else None
        fake = fake_g.detach()
        with self.autocast():
            real_out, real_aux = self._D(x, y)
            fake_out, fake_aux = self._D(fake, y_fake)
        real_out, fake_out = real_out.float(), fake_out.float()
        real_t, fake_t = make_targets(spec, lc, B, self.device, self.dev_gen)
        loss = adv = spec.d_loss(real_out, fake_out, real_t, fake_t)
        out = {"d_adv": adv.detach()}
        if spec.penalty is not None:
            with self.autocast():
                if spec.penalty == "gp":
                    pen = gradient_penalty(self._D, x, fake, y, self.dev_gen)  # interpolates carry the real tags
                else:
                    pen = dragan_penalty(self._D, x, y, lc.dragan_c, self.dev_gen)
            loss = loss + lc.gp_lambda * pen.float()
            out["penalty"] = pen.detach()
        if self.acgan:
            G = self.n_groups
            aux = aux_loss(real_aux[:G], y)
            if lc.aux_on_fake:
                aux = aux + aux_loss(fake_aux[:G], y_fake)
            if self.twin:  # the twin heads learn the tags of fakes (TAC-GAN)
                twin = aux_loss(fake_aux[G:], y_fake)
                aux = aux + twin
                out["twin_d"] = twin.detach()
            loss = loss + lc.aux_weight * aux
            out["aux_d"] = aux.detach()
        self._backward_step(loss, self.opt_d)
        if spec.clip_weights:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-lc.clip_value, lc.clip_value)
        logits_are_probs = spec.uses_targets and spec.target_range == "bce"
        squash = torch.sigmoid if logits_are_probs else (lambda t: t)
        out.update(d_loss=loss.detach(), d_real=squash(real_out.detach()).mean(),
                   d_fake=squash(fake_out.detach()).mean())
        return out

    def _g_step(self) -> dict[str, Tensor]:
        lc = self.cfg.loss
        B = self.cfg.train.batch_size
        stash, self._stash = self._stash, None
        y = stash[1] if stash is not None else None
        if stash is None and self.labels is not None:
            idx = torch.randint(len(self.labels), (B,), generator=self.gen, device=self.data_device)
            y = self.labels[idx].to(self.device, non_blocking=True)
        self.D.requires_grad_(False)  # no D weight grads needed in the G step
        try:
            with self.autocast():
                if stash is not None:
                    fake, z = stash[0], stash[2]
                else:
                    z, y = self._fake_inputs(B, y)
                    fake = self.G(z, y)
                if self.mem_format is not None:
                    fake = fake.contiguous(memory_format=self.mem_format)
                out, aux = self._D(fake, y)
            loss = self.loss_spec.g_loss(out.float(), lc)
            res = {"g_adv": loss.detach()}
            if self.acgan:
                G = self.n_groups
                a = aux_loss(aux[:G], y)
                if self.twin:  # TAC-GAN: match the real tag heads, not the twin (fake) heads
                    a = a - aux_loss(aux[G:], y)
                loss = loss + lc.aux_weight * a
                res["aux_g"] = a.detach()
            if lc.ms_weight > 0 and B >= 2:
                ms = self._mode_seeking(fake, z)
                loss = loss + lc.ms_weight / (ms + 1e-5)
                res["ms"] = ms.detach()
            self._backward_step(loss, self.opt_g)
        finally:
            self.D.requires_grad_(True)
        if self.G_ema is not None:
            self._update_ema()
        res["g_loss"] = loss.detach()
        return res

    @torch.no_grad()
    def _update_ema(self) -> None:
        # warm-up as in TF's ExponentialMovingAverage(num_updates): early on the average follows G
        # closely, so a short run's EMA generator is not still mostly the random initialisation
        d = min(self.cfg.train.ema_decay, (1.0 + self.step) / (10.0 + self.step))
        ema_p = list(self.G_ema.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in self.G.parameters()], 1.0 - d)
        for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
            be.copy_(b)

    @staticmethod
    def _grad_norm(m: nn.Module) -> float:
        norms = [p.grad.detach().norm() for p in m.parameters() if p.grad is not None]
        return float(torch.stack(norms).norm()) if norms else 0.0

    # ---- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_image(self) -> np.ndarray:
        """Fixed-noise sample grid (images) or scatter plot (2D points) as (H, W, 3) uint8."""
        g = self.G_ema if self.G_ema is not None else self.G
        was_training = g.training
        g.eval()
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            z = self.fixed_z.to(self.device)
            y = self.fixed_labels.to(self.device) if self.fixed_labels is not None else None
            with self.autocast():
                x = g(z, y).float().cpu()
        g.train(was_training)
        if self.spec.kind == "points":
            return scatter_image(x.numpy(), self.images[:2000].float().cpu().numpy())
        return make_grid_uint8(x, nrow=int(math.ceil(math.sqrt(len(x)))))

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: Union[str, os.PathLike]) -> str:
        save_checkpoint(self.state_dict(), path)
        return str(path)

    def _checkpoint(self) -> str:
        assert self.out_dir is not None
        tc = self.cfg.train
        last = self.out_dir / "last.pt"
        self.save(last)
        if tc.keep_checkpoints > 0:
            self.save(self.out_dir / f"step_{self.step:07d}.pt")
            olds = sorted(self.out_dir.glob("step_*.pt"))[: -tc.keep_checkpoints]
            for p in olds:
                p.unlink(missing_ok=True)
        self.last_checkpoint, self._saved_step = str(last), self.step
        return str(last)

    def _metrics_path(self) -> Optional[Path]:
        return self.out_dir / "metrics.jsonl" if self.out_dir is not None else None

    def _prepare_out_dir(self) -> None:
        if self.out_dir is None:
            return
        (self.out_dir / "samples").mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(self.out_dir)  # of a run killed mid-write (this trainer owns the folder)
        atomic_write_text(self.out_dir / "config.json", self.cfg.to_json())
        mp = self._metrics_path()
        if mp.exists():  # drop lines from after the checkpoint we resume from (or all when starting over)
            kept = []
            for line in mp.read_text().splitlines():
                try:
                    if json.loads(line).get("step", 0) <= self.step:
                        kept.append(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
            atomic_write_text(mp, "".join(k + "\n" for k in kept))

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        """Train, yielding events. Never raises for training errors: yields ErrorEvent then DoneEvent."""
        try:
            yield StatusEvent("loading data", message=f"loading {self.cfg.data.dataset}")
            self._setup()
            self._prepare_out_dir()
        except Exception as e:  # bad data, bad checkpoint, no device ...
            yield ErrorEvent(self.step, f"could not start training: {e}", "data")
            yield DoneEvent(self.step, "error", str(self.out_dir) if self.out_dir else None)
            return
        notes = list(self.dataset.notes) + [self.speed.describe()]
        if self.conv and len(self.dataset) < SMALL_DATA and not self.diffaug:
            notes.append(f"only {len(self.dataset):,} training images: D may memorise them; DiffAugment "
                         "(data.diffaugment = color,translation,cutout) usually helps such small sets")
        tc = self.cfg.train
        if tc.seconds and self.speed.ms_per_step:
            plan = int(tc.seconds * 1000 / self.speed.best_ms)
            notes.append(f"time budget {tc.seconds:g} s: about {plan:,} steps at the probed speed "
                         f"({self.speed.best_ms:.1f} ms per step with n_critic {self.n_critic})"
                         + (f", capped at {tc.steps:,} steps" if tc.steps else ""))
        yield StartEvent(str(self.out_dir) if self.out_dir else None, self.cfg.to_dict(), self.spec.to_dict(),
                         str(self.device), len(self.dataset), self.params_g, self.params_d, self.step, notes)
        reason = "error"
        try:
            reason = yield from self._loop()
        except Exception as e:
            msg = str(e)
            if "out of memory" in msg.lower():
                msg = f"out of memory: lower train.batch_size or the model width ({msg.splitlines()[0]})"
            yield ErrorEvent(self.step, f"training failed at step {self.step}: {msg}", "exception")
        if reason != "error" and not self._weights_finite():  # NaN is only seen in logged steps
            yield self._nonfinite_error()
            reason = "error"
        if reason != "error":
            yield from self._emit_sample()
            if self.out_dir is not None and self._saved_step != self.step:  # not when checkpoint_every just did
                yield CheckpointEvent(self.step, self._checkpoint())
        yield DoneEvent(self.step, reason, str(self.out_dir) if self.out_dir else None, self.last_checkpoint)

    def _emit_sample(self) -> Iterator[Event]:
        img = self.sample_image()
        path = None
        if self.out_dir is not None:
            path = str(self.out_dir / "samples" / f"step_{self.step:07d}.png")
            save_png(img, path)
        yield SampleEvent(self.step, img, path)

    def _loop(self) -> Iterator[Event]:
        tc = self.cfg.train
        G, D = self.G, self.D
        G.train()
        D.train()
        window: list[dict[str, Tensor]] = []
        t_start = time.perf_counter()
        elapsed0 = self.elapsed
        paused_total = 0.0
        win_t0, win_imgs = time.perf_counter(), 0
        start_step = self.step
        mfile = open(self._metrics_path(), "a") if self.out_dir is not None else None
        next_sample = tc.sample_seconds if tc.sample_seconds else math.inf   # run-time marks (s)
        next_ckpt = tc.checkpoint_seconds if tc.checkpoint_seconds else math.inf
        try:
            if self.step == 0 and (tc.sample_every or tc.sample_seconds):
                yield from self._emit_sample()
            while True:
                # --- limits and control ---
                run_time = time.perf_counter() - t_start - paused_total
                self.elapsed = elapsed0 + run_time
                if tc.steps and self.step >= tc.steps:
                    return "steps"
                if tc.seconds and run_time >= tc.seconds:
                    return "time"
                if self.control.stop_requested:
                    return "stopped"
                if self.control.paused:
                    yield StatusEvent("paused", self.step)
                    t_p = time.perf_counter()
                    while not self.control.wait_resumed(0.1):
                        pass
                    paused_total += time.perf_counter() - t_p
                    win_t0 += time.perf_counter() - t_p
                    if self.control.stop_requested:
                        return "stopped"
                    yield StatusEvent("running", self.step)
                self._apply_updates()

                # --- one G step after n_critic D steps ---
                for i in range(self.n_critic):
                    d_out = self._d_step(keep_fake=self.reuse_fake and i == self.n_critic - 1)
                g_out = self._g_step()
                self.step += 1
                win_imgs += tc.batch_size * self.n_critic
                window.append({**d_out, **g_out})

                # --- events ---
                if self.step % tc.log_every == 0 or (tc.steps and self.step >= tc.steps):
                    ev = self._step_event(window, win_imgs, time.perf_counter() - win_t0, start_step, t_start,
                                          paused_total, elapsed0)
                    window, win_t0, win_imgs = [], time.perf_counter(), 0
                    if not all(math.isfinite(v) for v in (ev.d_loss, ev.g_loss)):
                        yield ErrorEvent(self.step, (
                            f"training diverged at step {self.step}: the losses became NaN/inf "
                            f"(D {ev.d_loss}, G {ev.g_loss}). The run was stopped; the last good checkpoint "
                            f"is {self._last_good() or 'none (no checkpoint was saved yet)'}. Try a lower "
                            "learning rate, another loss (e.g. wgan-gp or hinge) or spectral norm."), "nan")
                        return "error"
                    if mfile is not None:
                        mfile.write(json.dumps(ev.to_dict()) + "\n")
                        mfile.flush()
                    yield ev
                run_time = time.perf_counter() - t_start - paused_total
                due_sample, next_sample = _due(self.step, tc.sample_every, run_time, next_sample, tc.sample_seconds)
                if due_sample:
                    yield from self._emit_sample()
                due_ckpt, next_ckpt = _due(self.step, tc.checkpoint_every, run_time, next_ckpt,
                                           tc.checkpoint_seconds, end=tc.seconds)
                if self.out_dir is not None and due_ckpt:
                    if not self._weights_finite():
                        yield self._nonfinite_error()
                        return "error"
                    yield CheckpointEvent(self.step, self._checkpoint())
        finally:
            if mfile is not None:
                mfile.close()

    def _weights_finite(self) -> bool:
        """G, D (and EMA) weights all finite: checked before every checkpoint and at the end."""
        nets = [self.G, self.D] + ([self.G_ema] if self.G_ema is not None else [])
        return all(bool(torch.isfinite(t).all()) for m in nets for t in m.state_dict().values()
                   if t.is_floating_point())

    def _last_good(self) -> Optional[str]:
        """The newest checkpoint of this run, or the one it resumed from (nothing non-finite is ever saved)."""
        if self.last_checkpoint is None and self.out_dir is not None and (self.out_dir / "last.pt").is_file():
            return str(self.out_dir / "last.pt")
        return self.last_checkpoint

    def _nonfinite_error(self) -> ErrorEvent:
        return ErrorEvent(self.step, (
            f"training diverged by step {self.step}: the weights became NaN/inf, so no checkpoint was written "
            f"over the last good one ({self._last_good() or 'none: no checkpoint was saved yet'}). Try a lower learning "
            "rate, another loss (e.g. wgan-gp or hinge) or spectral norm."), "nan")

    def _apply_updates(self) -> None:
        u = self.control.take_updates()
        if "lr_g" in u:
            self._set_lr(self.opt_g, u["lr_g"])
        if "lr_d" in u:
            self._set_lr(self.opt_d, u["lr_d"])
        if "n_critic" in u:
            self.n_critic = u["n_critic"]

    def _step_event(self, window: list[dict[str, Tensor]], imgs: int, dt: float, start_step: int,
                    t_start: float, paused: float, elapsed0: float) -> StepEvent:
        tc = self.cfg.train
        keys = window[0].keys()
        means = {k: float(torch.stack([w[k].float() for w in window]).mean()) for k in keys}
        run_time = time.perf_counter() - t_start - paused
        steps_per_s = (self.step - start_step) / max(run_time, 1e-9)
        etas = []
        if tc.steps:
            etas.append((tc.steps - self.step) / max(steps_per_s, 1e-9))
        if tc.seconds:
            etas.append(max(tc.seconds - run_time, 0.0))
        eta = min(etas) if etas else None
        progress = 0.0
        if tc.steps:
            progress = self.step / tc.steps
        if tc.seconds:
            progress = max(progress, min(run_time / tc.seconds, 1.0))
        extra = {k: v for k, v in means.items() if k in ("penalty", "aux_d", "aux_g", "twin_d", "ms", "d_adv", "g_adv")}
        return StepEvent(
            step=self.step, total_steps=tc.steps, d_loss=means["d_loss"], g_loss=means["g_loss"],
            d_real=means["d_real"], d_fake=means["d_fake"], grad_norm_d=self._grad_norm(self.D),
            grad_norm_g=self._grad_norm(self.G), img_per_s=imgs / max(dt, 1e-9), lr_g=self._lr(self.opt_g),
            lr_d=self._lr(self.opt_d), n_critic=self.n_critic, elapsed=elapsed0 + run_time, eta=eta,
            progress=min(progress, 1.0), extra=extra,
        )


def train(cfg: RunConfig, out_dir: Optional[str] = None, callback: Optional[Callable[[Event], None]] = None,
          **kwargs: Any) -> list[Event]:
    """Run a trainer to the end, calling ``callback`` on every event (minGPT-style); returns all events
    except sample images, which are only passed to the callback."""
    events = []
    for ev in Trainer(cfg, out_dir, **kwargs).run():
        if callback is not None:
            callback(ev)
        if not isinstance(ev, SampleEvent):
            events.append(ev)
    return events
