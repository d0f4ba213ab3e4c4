"""The server's environment variables: every ``GAN_STUDIO_*`` name declared once (:data:`ENV_VARS`, from
which docs/deploy.md's table is made), and numbers read from them (:func:`env_number`: unset or empty
gives the default; anything else must be a number in range, or a one-line ValueError says so)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Union

Number = Union[int, float]


def env_number(name: str, default: Number, lo: Number, hi: Number, kind: type = int) -> Number:
    """``$name`` as ``kind`` (int or float) in [lo, hi]; ``default`` when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    what = "an integer" if kind is int else "a number"
    try:
        v = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {what} between {lo:g} and {hi:g}, got {raw!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be {what} between {lo:g} and {hi:g}, got {raw!r}")
    return v


@dataclass(frozen=True)
class EnvVar:
    """One environment variable the studio reads: its name, default (as text), what it does and who
    reads it (``server``: the app servers and the job manager; ``run``: a training run; ``internal``:
    set by the studio itself for its child processes, never by a person; ``test``: the test suite)."""
    name: str
    default: str
    meaning: str
    scope: str = "server"


PREFIX = "GAN_STUDIO_"   # every variable's name starts with it

# Every GAN_STUDIO_* variable, declared once as a constant named after it (GAN_STUDIO_RUNS: RUNS); the
# modules that read one take its name from here (``envvars.RUNS.name``) and write no name of their own
# (tests/test_architecture.py). docs/deploy.md's table is made from ENV_VARS (scripts/make_docs.py) and
# tests/test_docs.py checks that the code reads no undeclared variable.
CHECKPOINTS = EnvVar("GAN_STUDIO_CHECKPOINTS", "./checkpoints", "shipped and uploaded checkpoints")
RUNS = EnvVar("GAN_STUDIO_RUNS", "./runs", "training runs (one folder per run)")
ADMIN_TOKEN = EnvVar("GAN_STUDIO_ADMIN_TOKEN", "(none)", "the teacher's sign-in token: stop any run, delete any "
                     "upload, pin runs on the class board. Set it as a secret")
MAX_CONCURRENT = EnvVar("GAN_STUDIO_MAX_CONCURRENT", "1 on a CPU, 2 with a CUDA GPU", "runs training at once on this "
                        "machine (both servers together); more wait in the queue")
MAX_PER_VISITOR = EnvVar("GAN_STUDIO_MAX_PER_VISITOR", "2", "runs one visitor may have queued or training")
MAX_QUEUE = EnvVar("GAN_STUDIO_MAX_QUEUE", "50", "runs waiting in the queue at most")
GRADIO_MAX_QUEUE = EnvVar("GAN_STUDIO_GRADIO_MAX_QUEUE", "100", "requests waiting in Gradio's own queue at most")
MAX_UPLOAD_MB = EnvVar("GAN_STUDIO_MAX_UPLOAD_MB", "50", "size of one uploaded checkpoint at most")
MAX_UPLOADS_MB = EnvVar("GAN_STUDIO_MAX_UPLOADS_MB", "1024", "all uploads together at most")
MAX_RUNS_MB = EnvVar("GAN_STUDIO_MAX_RUNS_MB", "4096", "disk used by runs; the oldest finished runs are pruned "
                     "before a new one starts")
JOB_MODE = EnvVar("GAN_STUDIO_JOB_MODE", "process (zerogpu on ZeroGPU)", "where a run trains: `process` (a child "
                  "process), `thread`, `ray` (a Ray actor, docs/scaling.md) or `zerogpu` (a chain of ZeroGPU calls)")
ZEROGPU = EnvVar("GAN_STUDIO_ZEROGPU", "on where `SPACES_ZERO_GPU` is set", "`1`: the ZeroGPU mode (GPU calls "
                 "through `spaces.GPU`, docs/deploy.md) even off a ZeroGPU Space, e.g. to try it on a CPU; `0`: off")
NPROC = EnvVar("GAN_STUDIO_NPROC", "1", "processes per run; more makes every run a torchrun data-parallel "
               "job (docs/scaling.md)")
RAY_ADDRESS = EnvVar("GAN_STUDIO_RAY_ADDRESS", "(a local cluster)", "the Ray cluster to join in job mode `ray`")
RAY_GPUS = EnvVar("GAN_STUDIO_RAY_GPUS", "1 if the cluster has GPUs, else 0", "GPUs each Ray run asks for "
                  "(0.5 puts two runs on one GPU)")
RAY_CPUS = EnvVar("GAN_STUDIO_RAY_CPUS", "1", "CPUs each Ray run asks for (also its torch threads)")
METRICS = EnvVar("GAN_STUDIO_METRICS", "1", "`0`: no quality metrics while training")
SERVER_NICE = EnvVar("GAN_STUDIO_SERVER_NICE", "5", "how much lower the app server's CPU priority is than its "
                     "training processes' (0: leave it alone; at 5 a busy trainer thread still gets 3x the server's "
                     "share of a core, bench/RESULTS_class.md)")
PROBE = EnvVar("GAN_STUDIO_PROBE", "1", "`0`: no background data pool and speed probe at server start (the Train "
               "form then cannot say how many steps a time preset gives on this machine)")
EVAL_EVERY = EnvVar("GAN_STUDIO_EVAL_EVERY", "250", "steps between quality evaluations of a run")
EVAL_SAMPLES = EnvVar("GAN_STUDIO_EVAL_SAMPLES", "256", "images per quality evaluation")
TENSORBOARD = EnvVar("GAN_STUDIO_TENSORBOARD", "1", "`0`: runs write no TensorBoard event files", "run")
VGG19 = EnvVar("GAN_STUDIO_VGG19", "(torchvision's cache or download)", "a local VGG19 weights file for "
               "style transfer", "run")
TEST_DEVICE = EnvVar("GAN_STUDIO_TEST_DEVICE", "cpu", "`cuda`: the tests that take a device train on the GPU "
                     "(bench/gpu_check.sh)", "test")
JOB_ADDR = EnvVar("GAN_STUDIO_JOB_ADDR", "", "set by the job manager for a torchrun job's rank 0", "internal")
JOB_KEY = EnvVar("GAN_STUDIO_JOB_KEY", "", "set by the job manager for a torchrun job's rank 0", "internal")
JOB_CONFIG = EnvVar("GAN_STUDIO_JOB_CONFIG", "", "set by the job manager for a torchrun job's ranks", "internal")

ENV_VARS: tuple[EnvVar, ...] = (
    CHECKPOINTS, RUNS, ADMIN_TOKEN, MAX_CONCURRENT, MAX_PER_VISITOR, MAX_QUEUE, GRADIO_MAX_QUEUE,
    MAX_UPLOAD_MB, MAX_UPLOADS_MB, MAX_RUNS_MB, JOB_MODE, ZEROGPU, NPROC, RAY_ADDRESS, RAY_GPUS, RAY_CPUS,
    METRICS, SERVER_NICE, PROBE, EVAL_EVERY, EVAL_SAMPLES, TENSORBOARD, VGG19, TEST_DEVICE, JOB_ADDR, JOB_KEY,
    JOB_CONFIG,
)


def env_var(name: str) -> EnvVar:
    """The declaration of ``name`` (KeyError names it when it is not declared)."""
    for v in ENV_VARS:
        if v.name == name:
            return v
    raise KeyError(f"{name} is not declared in gan_core.config.envvars.ENV_VARS")


def env_table_markdown(scopes: tuple[str, ...] = ("server", "run")) -> str:
    """The variables of ``scopes`` as a markdown table (docs/deploy.md)."""
    rows = ["| variable | default | what it does |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in ENV_VARS if v.scope in scopes]
    return "\n".join(rows)
