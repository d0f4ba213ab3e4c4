#!/usr/bin/env python3
"""Train the small classifiers shipped in gan_core/assets/ (feature extractors for FID/KID/IS and
judges of tag accuracy).

    python scripts/train_classifiers.py                 # both (CPU, a few minutes)
    python scripts/train_classifiers.py --which faces

* digits: scikit-learn's 8x8 digits upscaled to 32 px (the project's ``digits`` dataset); a fixed,
  stratified 80/20 split; accuracy reported on the held-out 20 %.
* faces: procedurally drawn faces (gan_core.data.faces) from seeds the GAN never trains on (seed 1
  for training, seed 2 for validation; the GAN default is seed 0); validation at 32 px plus sets drawn
  at 16 and 64 px (fed through the classifier's resize) to check the other sizes.

Everything is seeded (``--seed``), so a rerun on the same torch version reproduces the weights.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python scripts/train_classifiers.py " + " ".join(sys.argv[1:])
sys.path.insert(0, str(ROOT))

from gan_core.metrics.classifiers import ASSETS_DIR, ClassifierInfo, SmallClassifier, save_classifier  # noqa: E402
from gan_core.config import DataConfig  # noqa: E402
from gan_core.data import load_dataset  # noqa: E402
from gan_core.data.images import to_float  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- augmentation --------------------------------------------------------------------------------
def random_affine(x: torch.Tensor, g: torch.Generator, rot_deg: float, scale: float, shift_px: float) -> torch.Tensor:
    """Random rotation / scale / translation per image (border: edge replicate)."""
    b, _, h, _ = x.shape
    ang = (torch.rand(b, generator=g) * 2 - 1) * math.radians(rot_deg)
    sc = 1 + (torch.rand(b, generator=g) * 2 - 1) * scale
    t = (torch.rand(b, 2, generator=g) * 2 - 1) * (2 * shift_px / h)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_down_up(x: torch.Tensor, g: torch.Generator, p: float, low: int) -> torch.Tensor:
    """With probability p per image: shrink to ``low`` px and back (what a 16 px input looks like)."""
    mask = torch.rand(x.shape[0], generator=g) < p
    if not mask.any():
        return x
    s = x.shape[-1]
    small = F.interpolate(x[mask], size=(low, low), mode="bilinear", antialias=True, align_corners=False)
    x = x.clone()
    x[mask] = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)
    return x


def augment_faces(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    x = random_affine(x, g, rot_deg=6, scale=0.06, shift_px=2)
    x = random_down_up(x, g, p=0.3, low=16)
    return (x + 0.03 * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def augment_digits(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    x = random_affine(x, g, rot_deg=12, scale=0.1, shift_px=x.shape[-1] / 12)
    return (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(-1, 1)


# ---- training --------------------------------------------------------------------------------------
@torch.no_grad()
def accuracy(model: SmallClassifier, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    model.eval()
    preds = [[] for _ in range(y.shape[1])]
    for i in range(0, len(x), 512):
        for gi, lg in enumerate(model(x[i:i + 512])):
            preds[gi].append(lg.argmax(1))
    return [float((torch.cat(p) == y[:, gi]).float().mean()) for gi, p in enumerate(preds)]


@torch.no_grad()
def joint_accuracy(model: SmallClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    ok = []
    for i in range(0, len(x), 512):
        lg = model(x[i:i + 512])
        ok.append(torch.stack([l.argmax(1) for l in lg], 1).eq(y[i:i + 512]).all(1))
    return float(torch.cat(ok).float().mean())


def fit(model: SmallClassifier, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor,
        augment, epochs: int, batch: int, lr: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    for ep in range(epochs):
        model.train()
        t0, tot, nb = time.time(), 0.0, 0
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            xb = augment(x[idx], g)
            lg = model(xb)
            loss = sum(F.cross_entropy(l, y[idx, gi], label_smoothing=0.05) for gi, l in enumerate(lg))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot, nb = tot + loss.item(), nb + 1
        acc = accuracy(model, xv, yv)
        log(f"  epoch {ep + 1}/{epochs} loss {tot / nb:.4f} val acc {[round(a, 4) for a in acc]} "
            f"({time.time() - t0:.0f}s)")


def train_digits(args) -> None:
    from sklearn.model_selection import train_test_split

    size = args.digits_size
    ds = load_dataset(DataConfig(dataset="digits", image_size=size, cache_dir=args.cache_dir))
    x, y = to_float(ds.images), ds.labels
    idx = torch.arange(len(x)).numpy()
    tr, va = train_test_split(idx, test_size=0.2, random_state=args.seed, stratify=y[:, 0].numpy())
    tr, va = torch.as_tensor(tr), torch.as_tensor(va)
    log(f"digits: {len(tr)} train / {len(va)} held-out images at {size} px")
    torch.manual_seed(args.seed)
    info = ClassifierInfo("digits", 1, size, ("digit",), (tuple(str(d) for d in range(10)),), width=args.width)
    model = SmallClassifier(info)
    t0 = time.time()
    fit(model, x[tr], y[tr], x[va], y[va], augment_digits, args.digits_epochs, 64, 3e-3, args.seed)
    acc = accuracy(model, x[va], y[va])[0]
    # the same held-out digits at 16 and 64 px (the project's digits dataset at other sizes)
    extra_acc = {}
    for other in (16, 32, 64):
        if other == size:
            continue
        ds_s = load_dataset(DataConfig(dataset="digits", image_size=other, cache_dir=args.cache_dir))
        extra_acc[f"val_accuracy_{other}px"] = round(accuracy(model, to_float(ds_s.images[va]), ds_s.labels[va])[0], 4)
    log(f"digits: held-out accuracy {acc:.4f} on {len(va)} images; {extra_acc}; {time.time() - t0:.0f}s")
    model.info.extra.update({
        "val_accuracy": {"digit": round(acc, 4)}, "val_joint_accuracy": round(acc, 4), "n_val": len(va),
        "n_train": len(tr), **extra_acc, "seed": args.seed, "epochs": args.digits_epochs,
        "data": f"scikit-learn digits (8x8) upscaled to {size} px, stratified 80/20 split (random_state=seed)",
        "command": COMMAND, "torch": torch.__version__,
        "train_seconds": round(time.time() - t0, 1),
    })
    out = save_classifier(model, Path(args.out) / "digits_classifier.safetensors")
    log(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


def faces_set(n: int, size: int, seed: int, cache_dir: str) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset(DataConfig(dataset="faces", image_size=size, num_samples=n, seed=seed, cache_dir=cache_dir))
    return to_float(ds.images), ds.labels


def train_faces(args) -> None:
    from gan_core.data.tags import EYE_COLORS, HAIR_COLORS

    t0 = time.time()
    x, y = faces_set(args.faces_train, 32, 1, args.cache_dir)
    xv, yv = faces_set(args.faces_val, 32, 2, args.cache_dir)
    log(f"faces: drew {len(x)} train (seed 1) / {len(xv)} val (seed 2) faces at 32 px in {time.time() - t0:.0f}s")
    torch.manual_seed(args.seed)
    info = ClassifierInfo("faces", 3, 32, ("hair", "eye"), (HAIR_COLORS, EYE_COLORS), width=args.width)
    model = SmallClassifier(info)
    t0 = time.time()
    fit(model, x, y, xv, yv, augment_faces, args.faces_epochs, 64, 3e-3, args.seed)
    acc = accuracy(model, xv, yv)
    joint = joint_accuracy(model, xv, yv)
    log(f"faces: held-out accuracy hair {acc[0]:.4f} eye {acc[1]:.4f} joint {joint:.4f} on {len(xv)} faces")
    extra_acc = {}
    for size in (16, 64):
        xs, ys = faces_set(args.faces_val, size, 2, args.cache_dir)
        a = accuracy(model, xs, ys)
        extra_acc[f"val_accuracy_{size}px"] = {"hair": round(a[0], 4), "eye": round(a[1], 4),
                                               "joint": round(joint_accuracy(model, xs, ys), 4)}
    log(f"faces: other sizes {extra_acc}")
    model.info.extra.update({
        "val_accuracy": {"hair": round(acc[0], 4), "eye": round(acc[1], 4)}, "val_joint_accuracy": round(joint, 4),
        "n_val": len(xv), "n_train": len(x), **extra_acc, "seed": args.seed, "epochs": args.faces_epochs,
        "data": "procedural faces (gan_core.data.faces) at 32 px: train data seed 1, validation data seed 2",
        "command": COMMAND, "torch": torch.__version__,
        "train_seconds": round(time.time() - t0, 1),
    })
    out = save_classifier(model, Path(args.out) / "faces_classifier.safetensors")
    log(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--which", nargs="+", default=["digits", "faces"], choices=["digits", "faces"])
    p.add_argument("--out", default=str(ASSETS_DIR))
    p.add_argument("--cache-dir", default=str(ROOT / ".cache" / "gan_studio"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=16, help="base CNN width (16: ~330 KiB of weights)")
    p.add_argument("--digits-epochs", type=int, default=30)
    p.add_argument("--digits-size", type=int, default=16, help="classifier input size (the source digits are 8x8)")
    p.add_argument("--faces-epochs", type=int, default=8)
    p.add_argument("--faces-train", type=int, default=8000)
    p.add_argument("--faces-val", type=int, default=1000)
    p.add_argument("--threads", type=int, default=int(os.environ.get("TORCH_THREADS", "2")))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if "digits" in args.which:
        train_digits(args)
    if "faces" in args.which:
        train_faces(args)


if __name__ == "__main__":
    main()
