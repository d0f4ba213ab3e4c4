"""Teaching notes per loss and the presets that reproduce classic pictures, each checked by a metric."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from gan_core.losses import LOSSES
from gan_core.lab2d.fields import ModeCoverage, surface_scale
from gan_core.lab2d.loop import Lab2D
from gan_core.lab2d.settings import LabConfig

SCALE_NOTES: dict[str, str] = {
    "probability": "The background is D(x) as a probability (sigmoid of D's logit): red = D says real, "
                   "blue = D says fake, white (0.5) = D cannot tell.",
    "score": "The background is D's raw least-squares score; D is trained to give real points b and fakes a.",
    "critic": "The background is the critic value (unbounded). Only its slope matters: fakes are pushed uphill.",
}

TEACHING_NOTES: dict[str, str] = {
    "minimax": "Watch the arrows on fakes sitting in the blue (D(x) near 0) region: the saturating loss "
               "log(1 - D(G(z))) has gradient D(x) * dD/dx there, so the arrows shrink to nothing exactly "
               "where G is worst: vanishing gradients. G only moves once D is unsure.",
    "ns": "Non-saturating: arrows are largest where D is surest a point is fake, so G escapes the blue "
          "region fast. But all fakes follow the same steep slope towards the nearest red patch: watch "
          "them bunch on one or two modes of the ring and hop between them (mode collapse).",
    "lsgan": "The score surface is a smooth bowl-like landscape; arrows are proportional to the distance of "
             "D(x) from the target c, so fakes far on the 'real' side of the boundary are still pulled towards "
             "the data instead of stopping (no saturation).",
    "wgan-clip": "A critic, not a classifier: its surface has no 0-1 plateaus. Weight clipping keeps it "
                 "almost linear (look for tilted planes and gentle ridges); arrows all have similar length.",
    "wgan-gp": "The gradient penalty keeps the critic's slope near 1 between real and fake points: arrows "
               "have nearly unit length everywhere, and the surface rises smoothly towards every mode, so "
               "fakes spread over all of them.",
    "dragan": "Non-saturating loss with a gradient penalty around real points only: the surface near the data "
              "stays gentle (no cliffs), which spreads the arrows over more modes than plain NS.",
    "hinge": "D stops improving once real scores pass +1 and fake scores fall below -1: look for flat "
             "terraces at +-1 on the surface. G climbs the critic like in WGAN (arrows = slope of D).",
}


def teaching_note(loss: str) -> str:
    """What to look for on the surface and arrows for a loss (any LOSSES key; generic otherwise)."""
    spec = LOSSES[loss]
    note = TEACHING_NOTES.get(loss) or (
        "Compare the arrows' length where D is sure with where it is unsure: that is how strongly G learns there.")
    return f"{note} {SCALE_NOTES[surface_scale(spec)]}"


@dataclass(frozen=True)
class LabPreset:
    name: str
    title: str
    shows: str                                   # what the picture should show
    changes: Mapping[str, Any]                   # dotted LabConfig fields over LabConfig()
    steps: int                                   # G steps the preset trains
    expect: Mapping[str, tuple[float, float]]    # metric -> (min, max) inclusive, checked by run_preset

    def config(self) -> LabConfig:
        return LabConfig().replace(**{**self.changes, "train.steps": self.steps})


LAB_PRESETS: dict[str, LabPreset] = {
    "ns-collapse": LabPreset(
        "ns-collapse", "NS-GAN collapses on the 8-Gaussian ring",
        "With a discriminator that learns 8 times faster than G (lr D 2e-3, lr G 2.5e-4), the non-saturating "
        "GAN crowds all its samples onto one of the 8 modes within the first few hundred steps and stays "
        "there: D soon calls the whole plane real (red) except a blue pocket around the fakes, and G, too "
        "slow to climb out, keeps them bunched inside it. The strip under the plane keeps a frame every 250 "
        "steps with the modes it covers: a single mode frame after frame (for some seeds one early hop to a "
        "neighbouring mode), at most 3 in any frame. At the end at most 2 of the 8 modes hold 1 % of the "
        "samples (1 with seeds 0-4). With lr G as large as lr D the samples spread over more modes.",
        # a fast D and a slow G (lr ratio 8): with lr 1e-3 for both the run was CPU-dependent (seed 1 ended
        # on 8 modes on an Intel Xeon, 1-3 on an AMD EPYC); this one ends on 1 mode with seeds 0-4 and 10-14,
        # no other mode holding a sample (bench/RESULTS_lab2d.md)
        {"shape": "8gaussians", "loss.name": "ns", "model.z_dim": 64, "model.mlp_hidden": 128,
         "train.batch_size": 64, "train.lr_g": 2.5e-4, "train.lr_d": 2e-3, "train.n_critic": 1,
         "strip_every": 250},
        steps=2000, expect={"modes_covered": (0, 2), "modes_in_any_strip_frame": (0, 3)},
    ),
    "wgan-gp-covers": LabPreset(
        "wgan-gp-covers", "WGAN-GP covers all 8 modes",
        "With the gradient penalty the critic rises smoothly towards every mode, so the samples spread over "
        "all 8 Gaussians of the ring.",
        # the WGAN-GP paper's toy set-up (Adam betas (0.5, 0.9), 5 critic steps per G step, batch 256),
        # with lr 5e-4 and lambda 1 instead of 1e-4 / 0.1 so that it converges within 30 s on one core;
        # 8 / 8 modes with seeds 0-4 (bench/RESULTS_lab2d.md)
        {"shape": "8gaussians", "loss.name": "wgan-gp", "train.lr_g": 5e-4, "train.lr_d": 5e-4,
         "train.beta1": 0.5, "train.beta2": 0.9, "train.n_critic": 5, "loss.gp_lambda": 1.0,
         "train.batch_size": 256, "model.mlp_hidden": 64},
        steps=2000, expect={"modes_covered": (8, 8), "high_quality": (0.4, 1.0)},
    ),
    "minimax-saturates": LabPreset(
        "minimax-saturates", "Minimax vs LSGAN (1/2): the saturating loss gives G no gradient",
        "G is held still (lr G 1e-8) while D trains 5 steps per G step: D soon calls every fake fake "
        "(logit far below 0), and log(1 - D(G(z))) saturates: the arrows on the fakes vanish (mean |dL_G/dx| "
        "below 1e-6). Raise lr G afterwards: G stays stuck. Compare with the LSGAN preset.",
        {"shape": "8gaussians", "loss.name": "minimax", "train.lr_g": 1e-8, "train.lr_d": 1e-3, "train.n_critic": 5},
        steps=300, expect={"modes_covered": (0, 0), "grad_norm": (0.0, 1e-6)},
    ),
    "lsgan-does-not": LabPreset(
        "lsgan-does-not", "Minimax vs LSGAN (2/2): the least-squares loss keeps its gradient",
        "The same set-up with the LSGAN loss: D's score on the fakes settles at its target a, and G's loss "
        "1/2 (D(x) - c)^2 still has a clear slope there: the arrows stay visible (mean |dL_G/dx| above 1e-3, "
        "orders of magnitude above minimax). Raise lr G afterwards and the fakes travel to the ring.",
        {"shape": "8gaussians", "loss.name": "lsgan", "train.lr_g": 1e-8, "train.lr_d": 1e-3, "train.n_critic": 5},
        steps=300, expect={"modes_covered": (0, 0), "grad_norm": (1e-3, 1e6)},
    ),
}


@dataclass
class PresetResult:
    name: str
    steps: int
    seconds: float
    coverage: Optional[ModeCoverage]
    grad_norm: float
    values: dict[str, float]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


def check_expectations(values: Mapping[str, float], expect: Mapping[str, tuple[float, float]]) -> list[str]:
    """Messages for each metric outside its (min, max) range (empty list = all good)."""
    out = []
    for k, (lo, hi) in expect.items():
        v = values.get(k)
        if v is None or not lo <= v <= hi:
            out.append(f"{k} = {v} is outside [{lo:g}, {hi:g}]")
    return out


def run_preset(name: str, steps: Optional[int] = None, seed: Optional[int] = None,
               coverage_samples: int = 2500) -> PresetResult:
    """Train a preset headless (in the calling thread) and check its expectations."""
    p = LAB_PRESETS[name]
    cfg = p.config()
    if steps is not None or seed is not None:
        cfg = cfg.replace(**{k: v for k, v in (("train.steps", steps), ("train.seed", seed)) if v is not None})
    cfg.view_points = max(cfg.view_points, coverage_samples)
    lab = Lab2D(cfg)
    t0 = time.perf_counter()
    while lab.step < cfg.train.steps:
        lab.train_step()
    secs = time.perf_counter() - t0
    cov = lab.coverage()
    fr = lab.frame(history=False)
    values = {"grad_norm": fr.grad_norm}
    if cov is not None:
        values.update(modes_covered=float(cov.modes_covered), high_quality=cov.high_quality)
    strip = [s["modes_covered"] for s in lab.strip if s["modes_covered"] is not None]
    if strip:   # the most modes any kept frame of the strip covers (a preset whose point is made mid-run)
        values["modes_in_any_strip_frame"] = float(max(strip))
    return PresetResult(name, lab.step, secs, cov, fr.grad_norm, values, check_expectations(values, p.expect))
