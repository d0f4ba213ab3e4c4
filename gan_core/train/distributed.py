"""Data-parallel training with ``torch.distributed``: one run over N processes (``torchrun``).

    torchrun --nproc_per_node 2 -m gan_core train --dataset faces --steps 2000 --out runs/ddp

* Process group: NCCL when the processes have GPUs (process ``LOCAL_RANK`` uses ``cuda:LOCAL_RANK``), gloo on
  the CPU. :func:`from_env` reads torchrun's ``WORLD_SIZE`` / ``RANK`` / ``LOCAL_RANK``; with one process there
  is nothing to do and it returns None.
* Networks: G and D are wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` for the forward passes
  that train them (``trainer.G_fwd`` / ``trainer.D_fwd``); everything else (checkpoints, EMA, sampling, weight
  clipping) keeps using the plain modules. The G step runs D under ``no_sync`` with D's weights frozen, so D's
  gradients are reduced once per D step and never wait for a G step. The gradient penalties differentiate
  with respect to D's *inputs* (``autograd.grad(..., inputs=x)``), so they touch no parameter gradient and
  leave no parameter unused.
* Data: every process draws the same *global* batch (``train.batch_size`` x N) from the same seeded generator,
  then keeps its own contiguous shard (:meth:`Dist.shard`), as a ``DistributedSampler`` over a common
  permutation would. Batch indices, z, flips/rotations and label noise are therefore those of a
  single-process run with the global batch. Noise drawn inside a step for the local shard (the gradient
  penalties' interpolation points, DiffAugment, G dropout) comes from each process's own stream, seeded by
  the run's seed, the rank and the step the process started from (so a resumed data-parallel run draws
  other noise than the uninterrupted one would have; a one-process run is unchanged).
* BatchNorm: statistics are over the global batch. On GPUs the BatchNorm layers become
  :class:`torch.nn.SyncBatchNorm`; torch's SyncBatchNorm refuses CPU tensors, so on the CPU they become
  :class:`GlobalBatchNorm`, which all-reduces the per-channel sums (and, going back, their gradients, as
  SyncBatchNorm does) on a gloo process group of its own.
* Steering: the first process (rank 0) decides when to stop (steps, time limit, stop, an error), pauses, and
  applies live lr / n_critic changes; :meth:`Dist.agree` broadcasts its decision once per step so all processes
  leave the loop together. Only rank 0 writes the run folder (config, checkpoints, grids, metrics.jsonl,
  TensorBoard) and its events are the run's events; the logged losses are means over all processes.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

STOP_REASONS = ("steps", "time", "stopped", "error")
TIMEOUT = datetime.timedelta(minutes=30)   # a collective that waits longer than this fails the run
_BN_GROUP: Any = None   # GlobalBatchNorm's own process group (kept out of the modules: they are deep-copied)


@dataclass
class Dist:
    """This process's place in a data-parallel run."""
    rank: int
    world: int
    local_rank: int
    backend: str
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, t: Optional[Tensor]) -> Optional[Tensor]:
        """This process's part of a global batch (batch dimension first): rows rank*b .. (rank+1)*b."""
        if t is None:
            return None
        b = t.shape[0] // self.world
        return t[self.rank * b:(self.rank + 1) * b]

    def agree(self, reason: Optional[str], paused: bool, updates: dict[str, Any]) -> tuple[Optional[str], bool, dict]:
        """Rank 0's decision for this step (stop reason, paused, live updates), the same on every process."""
        return self.broadcast((reason, paused, updates))

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Means over the processes of a dict of numbers with the same keys everywhere."""
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64,
                         device=self.device if self.backend == "nccl" else "cpu")
        dist.all_reduce(t)
        return {k: float(v) / self.world for k, v in zip(keys, t.tolist())}

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def describe(self, global_batch: int) -> str:
        bn = "SyncBatchNorm" if self.device.type == "cuda" else "GlobalBatchNorm (an all-reduce of the sums)"
        return (f"data-parallel: {self.world} processes ({self.backend}), global batch {global_batch:,} "
                f"({global_batch // self.world:,} per process); BatchNorm statistics over the global batch by {bn}")


def from_env(device: str = "auto") -> Optional[Dist]:
    """Join the process group torchrun set up (``WORLD_SIZE`` > 1), else None. ``device``: the config's
    ``train.device``; with GPUs allowed and present, process ``LOCAL_RANK`` uses ``cuda:LOCAL_RANK`` and NCCL."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    gpu = device in ("auto", "cuda") and torch.cuda.is_available()
    if device == "cuda" and not gpu:
        raise ValueError("train.device is cuda but this process sees no GPU")
    if device == "mps":
        raise ValueError("data-parallel training runs on CUDA GPUs or the CPU, not on mps")
    if gpu and local >= torch.cuda.device_count():
        raise ValueError(f"process {local} of this machine needs cuda:{local}, but it has {torch.cuda.device_count()} "
                         "GPU(s): start at most that many processes per machine, or train on the CPU (--device cpu)")
    dev = torch.device("cuda", local) if gpu else torch.device("cpu")
    if gpu:
        torch.cuda.set_device(dev)
    backend = "nccl" if gpu else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT, **({"device_id": dev} if gpu else {}))
    global _BN_GROUP
    if not gpu and _BN_GROUP is None:
        _BN_GROUP = dist.new_group(backend="gloo", timeout=TIMEOUT)
    return Dist(rank, world, local, backend, dev)


def shutdown() -> None:
    """Leave the process group (end of a torchrun process)."""
    global _BN_GROUP
    if dist.is_initialized():
        dist.destroy_process_group()
    _BN_GROUP = None


class _AllReduceSum(torch.autograd.Function):
    """Sum over the processes; the backward pass sums the gradients the same way (each process's output
    feeds every process's loss). The collective torch's SyncBatchNorm uses in its backward, for CPU tensors."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:
        out = t.clone()
        dist.all_reduce(out, group=_BN_GROUP)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        g = grad.contiguous().clone()
        dist.all_reduce(g, group=_BN_GROUP)
        return g


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are over the batches of all processes (CPU data parallelism).

    The per-channel sum and sum of squares (and the count) are all-reduced, and so are their gradients in
    the backward pass, so G and D get the gradient of the global batch's normalisation. Outside a process group, or in eval mode, it is a plain BatchNorm."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and _BN_GROUP is not None and dist.is_initialized()):
            return super().forward(x)
        C = x.shape[1]
        dims = [0] + list(range(2, x.dim()))
        xf = x.float()
        stats = torch.cat([xf.sum(dims), (xf * xf).sum(dims), xf.new_full((1,), x.numel() / C)])
        stats = _AllReduceSum.apply(stats)
        n = stats[-1]
        mean = stats[:C] / n
        var = (stats[C:2 * C] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1.0), m)
        shape = [1, C] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with its BatchNorm layers computing global-batch statistics (same parameters and buffers,
    so checkpoints keep their keys): SyncBatchNorm on GPUs, :class:`GlobalBatchNorm` on the CPU."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        out = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, convert_batchnorm(child, device))
    return out


def fit_world(cfg: Any, world: int, resumed: bool) -> tuple[Any, Optional[str]]:
    """``cfg`` with ``train.world_size`` = ``world``. A run resumed on another number of processes keeps its
    global batch (the per-process batch changes) when it divides evenly; a note says what happened."""
    tc, note = cfg.train, None
    if resumed and tc.world_size != world:
        g = tc.batch_size * tc.world_size
        b = g // world if g % world == 0 else tc.batch_size
        cfg = cfg.replace(train={"batch_size": b})
        note = (f"resumed on {world} process(es); the run trained on {tc.world_size} so far: global batch "
                f"{b * world:,} ({b:,} per process)" + ("" if b * world == g else f", was {g:,}"))
    return cfg.replace(train={"world_size": world}), note


def agreed_speed(trainer: Any, result: Any) -> Any:
    """The precision / layout rank 0's speed probe chose, on every process (each probes on its own)."""
    d: Optional[Dist] = trainer.dist
    if d is None:
        return result
    from gan_core.train.speed import probe_trainer

    label = d.broadcast(result.chosen.label)
    return result if label == result.chosen.label else probe_trainer(trainer, keep=label)


def adopt(trainer: Any) -> None:
    """Set up ``trainer`` (after its state is restored) for its process group (nothing without one): each
    process's own in-step noise, global-batch BatchNorm and the DistributedDataParallel wrappers behind
    ``trainer.G_fwd`` / ``trainer.D_fwd``."""
    d: Optional[Dist] = trainer.dist
    if d is None:
        return
    # in-step noise (penalty points, DiffAugment, G dropout): each process its own stream, seeded by the run's
    # seed, its rank and the step it starts from (the shared streams keep drawing only global-batch draws)
    seed = (trainer.cfg.train.seed * 1_000_003 + 7919 * (d.rank + 1) + trainer.step) % 2**63
    trainer._noise_gen = torch.Generator(device=trainer.device).manual_seed(seed)
    torch.manual_seed(seed)
    trainer.G = convert_batchnorm(trainer.G, trainer.device)
    trainer.D = convert_batchnorm(trainer.D, trainer.device)
    ids = [trainer.device.index] if trainer.device.type == "cuda" else None
    trainer._ddp = (nn.parallel.DistributedDataParallel(trainer.G, device_ids=ids),
                    nn.parallel.DistributedDataParallel(trainer.D, device_ids=ids))
