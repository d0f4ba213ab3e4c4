#!/usr/bin/env bash
# Re-create the pretrained generators shipped in checkpoints/ with the project's own CLI (CPU is fine).
# Usage: bash scripts/make_pretrained.sh
#
# Both use the recommended tag-conditional recipe that `--preset` picks when no --arch is given
# (gan_core/recipes.py): faces: ACGAN with tag heads trained on real images, conditional BatchNorm in G,
# the MSGAN mode-seeking term, EMA of G; digits: projection D with the tags concatenated to z, plus the
# mode-seeking term and EMA of G. The step counts are fixed (not --seconds),
# so a run is reproducible on the same machine. Made 2026-11-25 on a 2-vCPU AMD EPYC (torch 2.14.1).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m gan_core train --dataset faces --preset 5min --steps 16000 --checkpoint-every 2000 --seed 0 \
  --set train.checkpoint_seconds=0 --set train.keep_checkpoints=10 --out runs/pretrained_faces
python -m gan_core export --checkpoint runs/pretrained_faces/last.pt --out checkpoints/faces.safetensors
python -m gan_core train --dataset digits --preset 1min --steps 4000 --checkpoint-every 1000 --seed 0 \
  --set train.checkpoint_seconds=0 --set train.keep_checkpoints=10 --out runs/pretrained_digits
python -m gan_core export --checkpoint runs/pretrained_digits/last.pt --out checkpoints/digits.safetensors
# pix2pix "sketch to face" with colour hints (issue 11): a U-Net G 16 wide (1.0 M parameters, 4.2 MB) on the
# procedural faces and their Canny edges (dataset faces-edges, 20,000 faces, the last 500 held out), each
# training pair with up to 8 random dabs of its true colours (none for a quarter of them) as 4 more input
# channels (gan_core/data/hints.py); cGAN + 1000 * L1 (a tenth of the paper's GAN weight), Adam 2e-4, beta1 0.5,
# EMA of G; 20,000 steps of 32 pairs (about 14 min on the 2-vCPU EPYC with one torch thread). The edges-only
# generator it replaces came from
#   python -m gan_core train --dataset faces-edges --arch pix2pix --loss ns --image-size 32 --num-samples 20000 \
#     --g-width 16 --d-width 16 --batch-size 32 --steps 1500 --ema 0.999 --seed 0 --checkpoint-every 500 \
#     --sample-every 250 --set train.keep_checkpoints=10 --out runs/pretrained_faces_pix2pix
OMP_NUM_THREADS=1 python -m gan_core train --dataset faces-edges --arch pix2pix --loss ns --hints 8 --image-size 32 \
  --num-samples 20000 --g-width 16 --d-width 16 --set loss.l1_weight=1000 --optimizer adam --lr-g 2e-4 --lr-d 2e-4 \
  --set train.beta1=0.5 --set train.beta2=0.999 --n-critic 1 --batch-size 32 --steps 20000 --ema 0.999 --seed 0 \
  --checkpoint-every 5000 --sample-every 5000 --set train.keep_checkpoints=10 --out runs/pretrained_faces_pix2pix
python -m gan_core export --checkpoint runs/pretrained_faces_pix2pix/last.pt --out checkpoints/faces_pix2pix.safetensors
