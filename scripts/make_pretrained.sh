#!/usr/bin/env bash
# Re-create the pretrained generators shipped in checkpoints/ with the project's own CLI (CPU is fine).
# Usage: bash scripts/make_pretrained.sh [faces_seconds] [digits_seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
FACES_S="${1:-1500}"
DIGITS_S="${2:-600}"
python -m gan_core train --dataset faces --image-size 32 --arch acgan --loss ns --ema 0.999 \
  --batch-size 64 --seed 0 --seconds "$FACES_S" --checkpoint-every 500 --out runs/pretrained_faces_acgan
python -m gan_core export --checkpoint runs/pretrained_faces_acgan/last.pt --out checkpoints/faces_acgan.safetensors
python -m gan_core train --dataset digits --image-size 32 --arch cgan --loss ns --ema 0.999 \
  --batch-size 64 --seed 0 --seconds "$DIGITS_S" --checkpoint-every 500 --out runs/pretrained_digits_cgan
python -m gan_core export --checkpoint runs/pretrained_digits_cgan/last.pt --out checkpoints/digits_cgan.safetensors
