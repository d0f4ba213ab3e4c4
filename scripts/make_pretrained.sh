#!/usr/bin/env bash
# Re-create the pretrained generators shipped in checkpoints/ with the project's own CLI (CPU is fine).
# Usage: bash scripts/make_pretrained.sh
#
# Both use the recommended tag-conditional recipe that `--preset` picks when no --arch is given
# (gan_core/train/recipes.py): faces: ACGAN with tag heads trained on real images, conditional BatchNorm in G,
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
# pix2pix "sketch to face" with colour hints (issue 11): checkpoints/faces_pix2pix.safetensors, the default on the
# Sketch pages. A U-Net G 16 wide on faces-edges (20,000 faces, the last 500 held out), up to 8 random dabs of the
# true colours per pair, cGAN + 1000 * L1, Adam 2e-4, beta1 0.5, EMA of G; 20,000 steps of 32 pairs.
OMP_NUM_THREADS=1 python -m gan_core train --dataset faces-edges --arch pix2pix --loss ns --hints 8 --image-size 32 \
  --num-samples 20000 --g-width 16 --d-width 16 --set loss.l1_weight=1000 --optimizer adam --lr-g 2e-4 --lr-d 2e-4 \
  --set train.beta1=0.5 --set train.beta2=0.999 --n-critic 1 --batch-size 32 --steps 20000 --ema 0.999 --seed 0 \
  --checkpoint-every 5000 --sample-every 5000 --set train.keep_checkpoints=10 --out runs/pretrained_faces_pix2pix
python -m gan_core export --checkpoint runs/pretrained_faces_pix2pix/last.pt --out checkpoints/faces_pix2pix.safetensors
# pix2pix "sketch to face" with the hair and eye tags (issue 21), step 1 of 2: arch pix2pix-tags, the same U-Net
# with the true tags through conditional BatchNorm and tag maps on the input (model.g_cond both, embed_dim 16), the
# same data, dabs and losses as above. Made 2026-12-02 on a 2-vCPU Intel Xeon shared with other jobs: 7,000 steps
# (the run was started with --steps 14000 and stopped after its step-7,000 checkpoint to meet a deadline; nothing
# in the trainer depends on the total step count, so --steps 7000 should repeat it, up to the precision the
# trainer's timed probe picks: bf16 + channels_last here). Its G (eye colour right only half the time, dabs
# ignored) was shipped as checkpoints/faces_pix2pix_tags.safetensors until step 2 replaced it.
OMP_NUM_THREADS=1 python -m gan_core train --dataset faces-edges --arch pix2pix-tags --set model.g_cond=both \
  --set model.embed_dim=16 --loss ns --hints 8 --image-size 32 --num-samples 20000 --g-width 16 --d-width 16 \
  --set loss.l1_weight=1000 --optimizer adam --lr-g 2e-4 --lr-d 2e-4 --set train.beta1=0.5 --set train.beta2=0.999 \
  --n-critic 1 --batch-size 32 --steps 7000 --ema 0.999 --seed 0 --checkpoint-every 1000 --sample-every 2000 \
  --set train.checkpoint_seconds=0 --set train.keep_checkpoints=20 --out runs/pretrained_faces_pix2pix_tags
# Step 2: checkpoints/faces_pix2pix_tags.safetensors, arch pix2pix-acgan, fine-tuned from step 1's G (its EMA
# weights: --init-g; D starts afresh and has tag heads, ACGAN-style, trained on real pictures with their true
# tags). G is asked for random tags on half of each batch (no L1 and no dabs there; loss.aux_weight 10 asks D's
# heads for them) and a tag group of the other pairs is dropped (unknown) a quarter of the time. Made 2026-12-02
# on the same shared machine: 7,000 steps of 32 pairs, about 20 minutes (started with --steps 12000 and stopped
# after its step-7,000 checkpoint; exported from runs/pretrained_faces_pix2pix_acgan/step_0007000.pt).
# Eye colour follows the pickers (tag accuracy 0.99 with asked tags); dabs are still ignored, so the colour-hint
# generator above stays the default of the Sketch pages and translate.
OMP_NUM_THREADS=1 python -m gan_core train --dataset faces-edges --arch pix2pix-acgan --set model.g_cond=both \
  --set model.embed_dim=16 --loss ns --hints 8 --image-size 32 --num-samples 20000 --g-width 16 --d-width 16 \
  --set loss.l1_weight=1000 --set loss.aux_weight=10 --set loss.drop_tags=0.25 --optimizer adam --lr-g 2e-4 \
  --lr-d 2e-4 --set train.beta1=0.5 --set train.beta2=0.999 --n-critic 1 --batch-size 32 --steps 7000 --ema 0.999 \
  --seed 0 --checkpoint-every 500 --sample-every 2000 --set train.checkpoint_seconds=0 --set train.keep_checkpoints=30 \
  --init-g runs/pretrained_faces_pix2pix_tags/last.pt --out runs/pretrained_faces_pix2pix_acgan
python -m gan_core export --checkpoint runs/pretrained_faces_pix2pix_acgan/last.pt --out checkpoints/faces_pix2pix_tags.safetensors
