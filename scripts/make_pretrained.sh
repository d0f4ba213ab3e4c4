#!/usr/bin/env bash
# Re-create the pretrained generators shipped in checkpoints/ with the project's own CLI (CPU is fine).
# Usage: bash scripts/make_pretrained.sh
#
# What was run for the shipped files (2026-11-23, torch 2.14.1, 2-core AMD EPYC CPU with AVX512-BF16,
# so training used bf16 autocast):
# * faces: the same command with "--seconds 1200" instead of "--steps 3000" (it reached step 5203); the
#   step-3000 checkpoint was exported, the best of its checkpoints by tag accuracy (bench/bench_learning.py
#   on 512 samples: 89.3 % at step 3000, 76.2 % at the last step). Training is deterministic per step for a
#   given seed and machine, so "--steps 3000" rebuilds that checkpoint.
# * digits: exactly the command below (it reached step 1930 in 600 s).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m gan_core train --dataset faces --image-size 32 --arch acgan --loss ns --ema 0.999 \
  --batch-size 64 --seed 0 --steps 3000 --checkpoint-every 500 \
  --set loss.aux_weight=3 --set train.keep_checkpoints=50 --out runs/pretrained_faces_acgan_aux3
python -m gan_core export --checkpoint runs/pretrained_faces_acgan_aux3/step_0003000.pt \
  --out checkpoints/faces_acgan.safetensors
python -m gan_core train --dataset digits --image-size 32 --arch cgan --loss ns --ema 0.999 \
  --batch-size 64 --seed 0 --seconds 600 --checkpoint-every 500 --out runs/pretrained_digits_cgan
python -m gan_core export --checkpoint runs/pretrained_digits_cgan/last.pt --out checkpoints/digits_cgan.safetensors
