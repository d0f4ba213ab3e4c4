"""Trainer throughput (img/s) vs a plain pytorch/examples-style DCGAN loop, same model and batch.

    python bench/bench_trainer.py                      # CPU, faces 32 px, batch 64, width 64
    python bench/bench_trainer.py --device cuda
    python bench/bench_trainer.py --variants all       # also try trainer variants (channels_last, bf16, ...)
    python bench/bench_trainer.py --profile            # torch.profiler tables of both loops
    python bench/bench_trainer.py --quick              # smoke test

The baseline ("plain loop") is the training loop of pytorch/examples dcgan/main.py: netG/netD as
plain nn.Sequential with exactly the layer shapes of gan_core's DCGANGenerator / DCGANDiscriminator
(the discriminator's last layer is a Linear on the 4x4 map, which is what gan_core uses and what the
example's final 4x4 valid conv computes), a DataLoader over a TensorDataset of the images already
converted the way ToTensor+Normalize(0.5, 0.5) would, BCELoss on sigmoid outputs, D real step + D
fake step on fake.detach(), a G step that reuses the same fake, zero_grad() and Adam(2e-4, (0.5,
0.999)). The `.item()` calls the example makes for its log line are made too.

Both are timed for the same number of steps after a warm-up, in interleaved rounds (A B A B ...,
order rotated), in wall-clock img/s (real images through D per second) and in images per CPU-second
of this process (steadier on a shared machine); the headline is the median over rounds of the
same-round ratio trainer / plain. ``--threads`` applies to both (on a small box shared with other
jobs, ``--threads 1`` avoids OpenMP threads waiting on each other for a core).

What the trainer does differently (its defaults, all on): the precision (bf16 autocast or fp32) and
memory layout (channels_last or not) that a timed probe of a few steps finds fastest on this machine
(``gan_core.train.speed``; ``train.amp`` / ``train.channels_last`` allow them), no D weight gradients
in the G step, the data as one uint8 tensor sampled by index (no DataLoader), set_to_none zero_grad
and no per-step ``.item()`` syncs (losses are averaged on device and read once per ``log_every``).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_common_args, bench_dir, emit, median, ratio_line, setup, sync  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from gan_core.config.checks import check_config  # noqa: E402
from gan_core.config import RunConfig  # noqa: E402
from gan_core.data import load_dataset  # noqa: E402
from gan_core.train.events import DoneEvent, ErrorEvent, StepEvent  # noqa: E402
from gan_core.train.trainer import Trainer  # noqa: E402

TARGET = 1.3   # issue 7: the trainer's defaults vs the example loop, on every CPU measured


# ---- the baseline: pytorch/examples dcgan/main.py ------------------------------------------------
def weights_init(m: nn.Module) -> None:  # verbatim from the example (+ Linear, which it does not have)
    classname = m.__class__.__name__
    if classname.find("Conv") != -1 or classname.find("Linear") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def plain_netG(nz: int, ngf: int, nc: int, image_size: int) -> nn.Sequential:
    n_up = image_size.bit_length() - 3
    ch = ngf * 2 ** (n_up - 1)
    layers: list[nn.Module] = [nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
    for _ in range(n_up - 1):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
        ch //= 2
    layers += [nn.ConvTranspose2d(ch, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def plain_netD(ndf: int, nc: int, image_size: int) -> nn.Sequential:
    n_up = image_size.bit_length() - 3
    ch = ndf
    layers: list[nn.Module] = [nn.Conv2d(nc, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for _ in range(n_up - 1):
        layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, inplace=True)]
        ch *= 2
    layers += [nn.Flatten(), nn.Linear(ch * 16, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


class PlainLoop:
    """The example's loop, one `step()` per batch; `channels_last` is an optional variant."""

    def __init__(self, images_f32: torch.Tensor, args: argparse.Namespace, device: torch.device,
                 channels_last: bool = False, workers: int = 0):
        self.device, self.nz, self.bs = device, args.z_dim, args.batch_size
        nc, size = images_f32.shape[1], images_f32.shape[-1]
        self.netG = plain_netG(args.z_dim, args.width, nc, size).to(device)
        self.netD = plain_netD(args.width, nc, size).to(device)
        self.mf = torch.channels_last if channels_last else None
        if self.mf is not None:
            self.netG.to(memory_format=self.mf)
            self.netD.to(memory_format=self.mf)
        self.netG.apply(weights_init)
        self.netD.apply(weights_init)
        self.criterion = nn.BCELoss()
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.loader = DataLoader(TensorDataset(images_f32), batch_size=self.bs, shuffle=True, drop_last=True,
                                 num_workers=workers)
        self.it = iter(self.loader)
        self.log = io.StringIO()

    def _next(self) -> torch.Tensor:
        try:
            return next(self.it)[0]
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)[0]

    def step(self) -> None:
        real_label, fake_label = 1, 0
        netD, netG, criterion, device, nz = self.netD, self.netG, self.criterion, self.device, self.nz
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real_cpu = self._next().to(device)
        if self.mf is not None:
            real_cpu = real_cpu.contiguous(memory_format=self.mf)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optimizerG.step()
        self.log.write("Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f\n"
                       % (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
        if self.log.tell() > 1 << 20:
            self.log = io.StringIO()


class PlainContender:
    """The plain loop, advanced in chunks of `n` steps."""

    def __init__(self, images_f32: torch.Tensor, args: argparse.Namespace, device: torch.device, **kw: Any):
        self.loop, self.device, self.bs = PlainLoop(images_f32, args, device, **kw), device, args.batch_size

    def warmup(self, n: int) -> None:
        for _ in range(n):
            self.loop.step()

    def chunk(self, n: int) -> tuple[float, float]:
        """(wall-clock img/s, img per CPU-second of this process) over the next n steps."""
        sync(self.device)
        t, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            self.loop.step()
        sync(self.device)
        return n * self.bs / (time.perf_counter() - t), n * self.bs / max(time.process_time() - c, 1e-9)

    def close(self) -> None:
        pass


# ---- gan_core's trainer, and variants of it -------------------------------------------------------
class VariantTrainer(Trainer):
    """Trainer with optional changes applied after setup, to measure what they buy."""

    variant: dict[str, Any] = {}

    def _setup(self) -> None:
        super()._setup()
        v = self.variant
        if v.get("fused_adam"):
            tc = self.cfg.train
            self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g, betas=(tc.beta1, tc.beta2), fused=True)
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2), fused=True)
        if v.get("compile"):
            self.G = torch.compile(self.G)
            self.D = torch.compile(self.D)


def make_cfg(args: argparse.Namespace, channels_last: bool = True, steps: Optional[int] = None,
             amp: bool = True) -> RunConfig:
    return check_config(RunConfig().replace(
        data={"dataset": args.dataset, "image_size": args.image_size, "num_samples": args.num_samples,
              "cache_dir": args.cache_dir},
        model={"arch": args.arch, "z_dim": args.z_dim, "g_width": args.width, "d_width": args.width},
        loss={"name": "ns"},
        train={"batch_size": args.batch_size, "steps": steps or 10**8, "device": args.device,
               "sample_every": 0, "checkpoint_every": 0, "log_every": args.log_every, "channels_last": channels_last,
               "amp": amp},
    ))


class TrainerContender:
    """Trainer.run() with a huge step budget, advanced from one StepEvent to the next (log_every steps),
    so the timed stretch includes everything the loop does per step (events, grad norms, ...)."""

    def __init__(self, ds, args: argparse.Namespace, device: torch.device, variant: dict[str, Any]):
        cls = type("T", (VariantTrainer,), {"variant": variant})
        self.tr = cls(make_cfg(args, channels_last=variant.get("channels_last", True), steps=10**8,
                               amp=variant.get("amp", True)), None, device=device, dataset=ds)
        self.gen = self.tr.run()
        self.device, self.bs, self.log_every = device, args.batch_size, args.log_every

    def _next_step_event(self) -> StepEvent:
        for ev in self.gen:
            if isinstance(ev, StepEvent):
                return ev
            if isinstance(ev, (ErrorEvent, DoneEvent)):
                raise RuntimeError(f"trainer stopped: {ev}")
        raise RuntimeError("trainer ended")

    def warmup(self, n: int) -> None:
        while self._next_step_event().step < n:
            pass

    def chunk(self, n: int) -> tuple[float, float]:
        assert n == self.log_every
        sync(self.device)
        t, c = time.perf_counter(), time.process_time()
        self._next_step_event()
        sync(self.device)
        return n * self.bs / (time.perf_counter() - t), n * self.bs / max(time.process_time() - c, 1e-9)

    def close(self) -> None:
        self.gen.close()


TRAINER_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},                 # the config defaults: the probe picks precision and layout
    "amp_off": {"amp": False},     # fp32 (the probe picks the layout)
    "channels_last_off": {"channels_last": False},
    "fused_adam": {"fused_adam": True},
    "compile": {"compile": True},
}
PLAIN_VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "plain+channels_last": {"channels_last": True},
}


# ---- profiling -------------------------------------------------------------------------------------
def profile_both(ds, images_f32: torch.Tensor, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """torch.profiler over `args.log_every` steps of each loop (after warm-up); tables written to runs/bench."""
    from torch.profiler import ProfilerActivity, profile, record_function

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    out_dir = bench_dir("profiles")
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    summary: dict[str, Any] = {}

    loop = PlainLoop(images_f32, args, device)
    for _ in range(args.warmup):
        loop.step()
    with profile(activities=acts) as prof:
        for _ in range(args.log_every):
            with record_function("plain_step"):
                loop.step()
    summary["plain"] = _prof_summary(prof, args.log_every, out_dir / "plain.txt", sort)

    tr = VariantTrainer(make_cfg(args, steps=10**6), None, device=device, dataset=ds)
    tr.variant = {}
    tr._setup()
    for _ in range(args.warmup):
        tr._d_step()
        tr._g_step()
    with profile(activities=acts) as prof:
        for _ in range(args.log_every):
            with record_function("d_step"):
                tr._d_step()
            with record_function("g_step"):
                tr._g_step()
    summary["trainer"] = _prof_summary(prof, args.log_every, out_dir / "trainer.txt", sort)
    return summary


def _prof_summary(prof, steps: int, path: Path, sort: str) -> dict[str, float]:
    ka = prof.key_averages()
    path.write_text(ka.table(sort_by=sort, row_limit=40))
    per_step: dict[str, float] = {}
    for e in ka:
        per_step[e.key] = e.self_cpu_time_total / 1000.0 / steps  # ms per step
    groups = {
        "conv fwd": ("aten::mkldnn_convolution", "aten::_slow_conv2d_forward", "aten::cudnn_convolution",
                     "aten::_convolution_mode", "aten::convolution_overrideable"),
        "conv-transpose fwd": ("aten::slow_conv_transpose2d", "aten::_slow_conv_transpose2d",
                               "aten::mkldnn_convolution_transpose", "aten::cudnn_convolution_transpose"),
        "conv bwd": ("aten::convolution_backward",),
        "batch norm": ("aten::native_batch_norm", "aten::native_batch_norm_backward", "aten::_batch_norm_with_update",
                       "aten::batch_norm_backward", "aten::_native_batch_norm_legit"),
        "optimizer": ("aten::_fused_adam_", "aten::addcmul_", "aten::addcdiv_", "aten::lerp_", "aten::mul_",
                      "aten::sqrt", "aten::div_", "aten::add_", "aten::_foreach_mul_", "aten::_foreach_add_",
                      "aten::_foreach_addcdiv_", "aten::_foreach_addcmul_", "aten::_foreach_lerp_",
                      "aten::_foreach_sqrt", "aten::_foreach_div_"),
        "copies/format": ("aten::copy_", "aten::clone", "aten::contiguous", "aten::to", "aten::_to_copy",
                          "aten::index", "aten::stack", "aten::cat"),
    }
    out = {g: round(sum(per_step.get(k, 0.0) for k in keys), 2) for g, keys in groups.items()}
    total = sum(v for k, v in per_step.items() if not k.endswith("_step") and k not in ("plain_step", "d_step", "g_step"))
    out["total self cpu"] = round(total, 2)
    top = sorted(((v, k) for k, v in per_step.items()), reverse=True)[:8]
    out["top"] = {k: round(v, 2) for v, k in top}
    return out


# ---- main ------------------------------------------------------------------------------------------------
def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--dataset", default="faces")
    p.add_argument("--arch", default="dcgan")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=64, help="g_width = d_width (ngf = ndf)")
    p.add_argument("--z-dim", type=int, default=100)
    p.add_argument("--num-samples", type=int, default=2048)
    p.add_argument("--rounds", type=int, default=8,
                   help="interleaved rounds; each round runs one chunk of --log-every steps of every contender")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps of each contender before the rounds")
    p.add_argument("--log-every", type=int, default=10, help="trainer train.log_every (the app default is 10)")
    p.add_argument("--variants", default="default",
                   help="comma list of trainer variants, or 'all': " + ", ".join(TRAINER_VARIANTS))
    p.add_argument("--plain-variants", default="plain", help="comma list or 'all': " + ", ".join(PLAIN_VARIANTS))
    p.add_argument("--profile", action="store_true", help="also profile both loops (torch.profiler)")
    args = p.parse_args(argv)
    if args.quick:
        args.image_size, args.batch_size, args.width, args.z_dim = 16, 8, 8, 16
        args.num_samples, args.warmup, args.rounds, args.log_every = 64, 2, 2, 2
    if args.warmup % args.log_every:
        args.warmup += args.log_every - args.warmup % args.log_every  # the timer starts at a StepEvent
    device = setup(args)
    tv = list(TRAINER_VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",")]
    pv = list(PLAIN_VARIANTS) if args.plain_variants == "all" else [v.strip() for v in args.plain_variants.split(",")]
    for v in tv:
        if v not in TRAINER_VARIANTS:
            p.error(f"unknown variant {v!r}")
    for v in pv:
        if v not in PLAIN_VARIANTS:
            p.error(f"unknown plain variant {v!r}")
    if "plain" not in pv:
        pv.insert(0, "plain")
    if "default" not in tv:
        tv.insert(0, "default")

    cfg = make_cfg(args)
    ds = load_dataset(cfg.data)
    images_f32 = ds.images.float().div(255.0).sub(0.5).div(0.5)  # ToTensor + Normalize((0.5,), (0.5,))
    print(f"# {args.dataset} {args.image_size}px x{len(ds)}, batch {args.batch_size}, width {args.width}, "
          f"z {args.z_dim}, device {device}, threads {torch.get_num_threads()}, {args.rounds} interleaved rounds "
          f"x {args.log_every} steps per contender (+{args.warmup} warm-up steps)", flush=True)

    names = pv + tv
    contenders: dict[str, Any] = {}
    for name in names:  # build and warm up everything first (torch.compile compiles here)
        t = time.perf_counter()
        if name in PLAIN_VARIANTS:
            contenders[name] = PlainContender(images_f32, args, device, **PLAIN_VARIANTS[name])
        else:
            contenders[name] = TrainerContender(ds, args, device, TRAINER_VARIANTS[name])
        contenders[name].warmup(args.warmup)
        probe = f"; {contenders[name].tr.speed.describe()}" if name in TRAINER_VARIANTS else ""
        print(f"  warm-up {name}: {time.perf_counter() - t:.1f} s{probe}", flush=True)
    runs: dict[str, list[float]] = {name: [] for name in names}       # wall-clock img/s per round
    cpu_runs: dict[str, list[float]] = {name: [] for name in names}   # img per CPU-second per round
    for r in range(args.rounds):  # every contender runs one chunk per round, order rotated
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            wall, cpu = contenders[name].chunk(args.log_every)
            runs[name].append(wall)
            cpu_runs[name].append(cpu)
        print(f"  round {r + 1}: " + ", ".join(f"{n} {runs[n][-1]:.0f} ({cpu_runs[n][-1]:.0f}/cpu-s)" for n in names)
              + " img/s", flush=True)
    for c in contenders.values():
        c.close()

    med = {k: median(v) for k, v in runs.items()}
    cpu_med = {k: median(v) for k, v in cpu_runs.items()}
    # headline: median over rounds of (variant / plain) in the same round - robust to load drifting
    paired = {k: median([a / b for a, b in zip(v, runs["plain"])]) for k, v in runs.items()}
    cpu_paired = {k: median([a / b for a, b in zip(v, cpu_runs["plain"])]) for k, v in cpu_runs.items()}
    base = med["plain"]
    print(f"plain loop (pytorch/examples dcgan): {base:.1f} img/s wall, {cpu_med['plain']:.1f} img per CPU-s (medians)")
    for name in names[1:]:
        kind = "plain variant" if name in PLAIN_VARIANTS else "trainer variant"
        print(f"{kind} {name}: {med[name]:.1f} img/s wall, {cpu_med[name]:.1f} img per CPU-s; vs plain "
              f"{paired[name]:.2f}x wall, {cpu_paired[name]:.2f}x per CPU-s")
    ratio = paired["default"]
    print(ratio_line("trainer_vs_plain_loop img/s (wall, paired rounds)", ratio, f"target >= {TARGET}"))
    print(ratio_line("trainer_vs_plain_loop img per CPU-second (paired rounds)", cpu_paired["default"],
                     f"target >= {TARGET}"), flush=True)
    results: dict[str, Any] = {
        "img_per_s": runs, "img_per_cpu_s": cpu_runs, "median_img_per_s": med, "median_img_per_cpu_s": cpu_med,
        "ratio": ratio, "ratio_cpu": cpu_paired["default"], "target": TARGET, "variant_ratios": paired,
        "variant_ratios_cpu": cpu_paired, "ratio_of_medians": med["default"] / base,
    }
    if args.profile:
        prof = profile_both(ds, images_f32, args, device)
        for name, s in prof.items():
            print(f"profile {name} (ms/step, self cpu): " +
                  ", ".join(f"{k} {v}" for k, v in s.items() if k != "top"))
            print(f"  top ops: " + ", ".join(f"{k} {v}" for k, v in s["top"].items()))
        results["profile"] = prof
    emit(args, "trainer", results, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
