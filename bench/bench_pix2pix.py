"""pix2pix "sketch to face": the shipped generator on held-out faces (issue 11's target: mean absolute
error to the true face under half that of the mean face), from edges alone and, for a generator trained
with colour hints, from edges plus a few dabs of the true colours; plus what edges alone allow at best.

    PYTHONPATH=. python bench/bench_pix2pix.py [--checkpoint checkpoints/faces_pix2pix.safetensors]
                                                [--n 500] [--oracle 120] [--dabs 8]

* Held-out faces: ``--n`` procedural faces of data seed ``--seed`` (default 3: the generator trained on
  seed 0, the faces classifier on seeds 1 and 2), their
  Canny edges (gan_core.data.edges.canny, as in training) through the generator (gan_core.translate).
* Mean face: the per-pixel mean of the generator's training targets (the faces of its config).
* MAE: mean |output - truth| over pixels and channels, in grey levels / 255.
* Edges + dabs (a generator that takes colour hints): each held-out face also gets ``--dabs`` dabs of 2 x 2
  pixels at uniform random places (gan_core.data.hints.eval_hints, seed ``--hint-seed``; they may overlap),
  carrying the true face's colours there, the way a user dabs colours on the Sketch page. The MAE is
  over all pixels (also given: over the pixels under no dab only).
* Colour oracle (``--oracle`` faces, 0 = skip): each held-out face drawn again with every hair colour x
  4 eye colours and everything else (layout, background, skin) the same; the per-pixel median of those
  versions is the best an L1 predictor can do when it knows the exact layout and background but not the
  hair and eye colours, which the edges do not show. Its MAE is a floor for any translator of edges.
* FID between translated and true held-out faces on the shipped faces classifier's features, and the
  translation speed (images/s, batch of --n, median of 5) on this machine.
Prints one JSON object. Not a test: run it under ``cpu-exclusive`` for the timing.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import numpy as np
import torch
from PIL import Image

from _common import ROOT, machine_info  # noqa: F401  (sets sys.path)

from gan_core.data import load_dataset
from gan_core.data.edges import canny
from gan_core.data.hints import eval_hints, hint_overlay
from gan_core.data.images import make_grid_uint8
from gan_core.data.faces import draw_face, face_rng, generate_faces
from gan_core.metrics.paired import mean_abs_error
from gan_core.metrics.scores import fid_from_features, get_extractor
from gan_core.pix2pix_step import split
from gan_core.translate import load_translator, takes_hints, translate


def colour_oracle(n: int, size: int, seed: int) -> tuple[float, np.ndarray]:
    """Mean MAE of the per-pixel median over hair x eye colour versions of each face (see the docstring),
    and the true faces used."""
    errs, truths = [], []
    for i in range(n):
        rng = face_rng(seed, i)
        hair, eye = int(rng.integers(12)), int(rng.integers(11))
        state = copy.deepcopy(rng.bit_generator.state)

        def drawn(h: int, e: int) -> np.ndarray:
            r = np.random.Generator(type(rng.bit_generator)())
            r.bit_generator.state = copy.deepcopy(state)
            return np.asarray(draw_face(h, e, size, r)).astype(np.float32)

        med = np.median(np.stack([drawn(h, e) for h in range(12) for e in (0, 3, 6, 9)]), 0)
        true = drawn(hair, eye)
        truths.append(true)
        errs.append(float(np.abs(med - true).mean() / 255.0))
    return float(np.mean(errs)), np.stack(truths)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "faces_pix2pix.safetensors"))
    p.add_argument("--n", type=int, default=500, help="held-out faces")
    p.add_argument("--seed", type=int, default=3, help="data seed of the held-out faces (training: 0)")
    p.add_argument("--oracle", type=int, default=120, help="faces for the colour oracle (0 = skip)")
    p.add_argument("--dabs", type=int, default=8, help="true-colour dabs per face for a hint generator")
    p.add_argument("--hint-seed", type=int, default=0, help="seed of the dabs' places")
    p.add_argument("--grid", help="also write a PNG of the first --grid-n held-out faces, one per row: edges | "
                   "output | [edges + dabs | output] | true face, 3x enlarged")
    p.add_argument("--grid-n", type=int, default=12)
    args = p.parse_args()
    torch.set_num_threads(2)

    from gan_core.checkpoint import load_generator

    G = load_translator(args.checkpoint)
    _, cfg, _ = load_generator(args.checkpoint)
    size = G.image_size
    train = load_dataset(cfg.data)                       # the training faces (seed 0) -> the mean face
    mean_face = train.images[split(len(train))[0]].float().mean(0)
    imgs, _ = generate_faces(args.n, size, seed=args.seed)   # held out: another data seed
    truth = torch.from_numpy(imgs)
    edges = canny(truth)
    out = translate(G, edges, seed=0)
    mae = mean_abs_error(out, truth)
    mae_mean = mean_abs_error(mean_face.expand_as(truth), truth)
    ext = get_extractor("faces")
    fid = fid_from_features(ext.features(truth), ext.features(out), ext.name).value
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        translate(G, edges, seed=0)
        times.append(time.perf_counter() - t0)
    res = {
        "checkpoint": args.checkpoint, "image_size": size, "held_out_faces": args.n, "held_out_seed": args.seed,
        "mean_face_from": f"{int(split(len(train))[0].stop)} training faces (seed {cfg.data.seed})",
        "takes_hints": takes_hints(G),
        "mae_generator": round(mae, 4), "mae_mean_face": round(mae_mean, 4), "ratio": round(mae / mae_mean, 3),
        "target_ratio_below": 0.5, "target_met": mae / mae_mean < 0.5,
        "fid_faces_classifier": round(fid, 3), "translate_images_per_s": round(args.n / sorted(times)[2], 1),
        "machine": machine_info(torch.device("cpu")),
    }
    if takes_hints(G) and args.dabs:
        hints = eval_hints(truth, args.dabs, seed=args.hint_seed)
        out_h = translate(G, edges, seed=0, hints=hints)
        mae_h = mean_abs_error(out_h, truth)
        off = (hints[:, 3:] == 0).expand_as(truth)                    # pixels under no dab
        mae_off = float((out_h.float() - truth.float()).abs()[off].mean() / 255.0)
        mean_off = float((mean_face.expand_as(truth) - truth.float()).abs()[off].mean() / 255.0)
        res.update(dabs_per_face=args.dabs, dab_pixels=f"2x2, {float((hints[:, 3] > 0).float().mean()):.3f} of all pixels",
                   mae_generator_dabs=round(mae_h, 4), ratio_dabs=round(mae_h / mae_mean, 3),
                   target_met_dabs=mae_h / mae_mean < 0.5, ratio_dabs_off_dab_pixels=round(mae_off / mean_off, 3),
                   fid_faces_classifier_dabs=round(fid_from_features(ext.features(truth), ext.features(out_h),
                                                                     ext.name).value, 3))
    if args.grid:
        k = min(args.grid_n, args.n)
        cols = [edges[:k].expand(-1, 3, -1, -1), out[:k]]
        if takes_hints(G) and args.dabs:
            cols += [hint_overlay(edges[:k], hints[:k]), out_h[:k]]
        cols.append(truth[:k])
        tiles = torch.stack(cols, 1).reshape(-1, 3, size, size)
        grid = make_grid_uint8(tiles, nrow=len(cols))
        Image.fromarray(grid).resize((grid.shape[1] * 3, grid.shape[0] * 3), Image.NEAREST).save(args.grid, optimize=True)
        res["grid"] = args.grid
    if args.oracle:
        o, _ = colour_oracle(args.oracle, size, seed=args.seed)
        sub = mean_abs_error(mean_face.expand(args.oracle, -1, -1, -1), truth[:args.oracle])
        sub_g = mean_abs_error(out[:args.oracle], truth[:args.oracle])
        res.update(oracle_faces=args.oracle, mae_colour_oracle=round(o, 4), mae_mean_face_same_faces=round(sub, 4),
                   mae_generator_same_faces=round(sub_g, 4), ratio_colour_oracle=round(o / sub, 3))
    lines = [f"mean face: MAE {res['mae_mean_face']:.4f} on {args.n} held-out faces (ratio 1)",
             f"edges only: MAE {res['mae_generator']:.4f}, ratio {res['ratio']:.3f} (target < 0.5)"]
    if "ratio_dabs" in res:
        lines.append(f"edges + {args.dabs} true-colour dabs (2x2 px): MAE {res['mae_generator_dabs']:.4f}, "
                     f"ratio {res['ratio_dabs']:.3f}")
    sys.stderr.write("\n".join(lines) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
