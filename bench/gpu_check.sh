#!/usr/bin/env bash
# The prepared GPU check (issue 20, part 3), for a machine with an NVIDIA GPU:
#   1. what the machine is (nvidia-smi, torch, CUDA);
#   2. bench/bench_gpu.py: every image architecture at 32 / 64 px (img/s, peak memory, AMP mode) against
#      the example loop, the 1min faces preset judged after 10 s, and 1 / 4 / 8 concurrent 1min runs
#      (combined img/s, memory, how many fit: the GAN_STUDIO_MAX_CONCURRENT to set);
#   3. the test suite with GAN_STUDIO_TEST_DEVICE=cuda (tests built on tiny_cfg train on the GPU; browser
#      tests are left out: they need Chromium, not a GPU).
#
#   bench/gpu_check.sh                 # everything, logs in $OUT (or runs/gpu_check)
#   bench/gpu_check.sh bench           # only the benchmark;  bench/gpu_check.sh tests: only the tests
#
# Time limits per phase (seconds): GPU_CHECK_BENCH_S (default 300), GPU_CHECK_TESTS_S (default 270), so
# that everything ends inside a 10-minute command. Without a CUDA GPU it says so and exits 0.
# Files written (at most 7): env.txt, bench_gpu.log, bench_gpu.json, tests.log, tests.xml, summary.txt.
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-runs/gpu_check}"
mkdir -p "$OUT_DIR"
PHASES="${*:-bench tests}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
summary() { echo "$*" | tee -a "$OUT_DIR/summary.txt"; }
: > "$OUT_DIR/summary.txt"

{
  date -u
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  "$PY" - <<'EOF' 2>&1
import os, platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda build", torch.version.cuda,
      "cuda available", torch.cuda.is_available(), "cpus", os.cpu_count())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("gpu", p.name, f"{p.total_memory / 2**30:.1f} GiB", f"sm {p.major}.{p.minor}",
          "bf16", torch.cuda.is_bf16_supported())
for mod in ("gradio", "streamlit", "spaces", "pytest"):
    try:
        m = __import__(mod)
        print(mod, getattr(m, "__version__", "?"))
    except Exception as e:   # noqa: BLE001
        print(mod, "missing:", type(e).__name__, e)
EOF
} > "$OUT_DIR/env.txt"
cat "$OUT_DIR/env.txt"

if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)"; then
  summary "gpu_check: SKIPPED: no CUDA GPU here (torch.cuda.is_available() is False)"
  exit 0
fi

status=0
for phase in $PHASES; do
  case "$phase" in
    bench)
      t0=$(date +%s)
      timeout "${GPU_CHECK_BENCH_S:-300}" "$PY" bench/bench_gpu.py --json "$OUT_DIR/bench_gpu.json" 2>&1 \
        | tee "$OUT_DIR/bench_gpu.log"
      rc=${PIPESTATUS[0]}
      summary "bench_gpu.py: exit $rc after $(( $(date +%s) - t0 )) s (124 = ran out of time)"
      grep -E "^(one 1min run|targets:)" "$OUT_DIR/bench_gpu.log" >> "$OUT_DIR/summary.txt"
      [ "$rc" -ne 0 ] && status=1 ;;
    tests)
      t0=$(date +%s)
      GAN_STUDIO_TEST_DEVICE=cuda timeout "${GPU_CHECK_TESTS_S:-270}" "$PY" -m pytest -q -m "not browser" \
        -p no:cacheprovider --junitxml="$OUT_DIR/tests.xml" 2>&1 | tee "$OUT_DIR/tests.log"
      rc=${PIPESTATUS[0]}
      summary "tests (GAN_STUDIO_TEST_DEVICE=cuda, not browser): exit $rc after $(( $(date +%s) - t0 )) s"
      tail -n 1 "$OUT_DIR/tests.log" >> "$OUT_DIR/summary.txt"
      grep -E "^(FAILED|ERROR) " "$OUT_DIR/tests.log" >> "$OUT_DIR/summary.txt"
      [ "$rc" -ne 0 ] && status=1 ;;
    *)
      summary "gpu_check: unknown phase '$phase' (bench, tests)"; status=2 ;;
  esac
done
cat "$OUT_DIR/summary.txt"
exit $status
