"""Shared fixtures: small, fast configs and an isolated cache/runs dir per test session."""
from __future__ import annotations

import os

import pytest
import torch

from gan_core.config import RunConfig

# One torch thread: the tests train tiny nets, where a second thread only adds synchronisation, and the browser
# tests' app server and Chromium need the other core. With two threads on a busy 2-vCPU box a lab preset ran
# ~10x slower (threads spinning at barriers). It is also how the app's 2D lab trains (lab2d.runner).
torch.set_num_threads(1)
# App servers started by tests (in-process or child) neither nice themselves nor draw the 20,000-face pool and
# probe the speed in the background (gan_core.studio.server); the tests of those set them explicitly.
os.environ.setdefault("GAN_STUDIO_PROBE", "0")
os.environ.setdefault("GAN_STUDIO_SERVER_NICE", "0")

# The device of the tests that take one (tiny_cfg's train.device): cpu unless $GAN_STUDIO_TEST_DEVICE says
# cuda (bench/gpu_check.sh runs the suite so on a GPU machine). Tests about the CPU itself keep "cpu".
TEST_DEVICE = os.environ.get("GAN_STUDIO_TEST_DEVICE", "").strip() or "cpu"
if TEST_DEVICE not in ("cpu", "cuda"):
    raise pytest.UsageError(f"GAN_STUDIO_TEST_DEVICE must be cpu or cuda, got {TEST_DEVICE!r}")
if TEST_DEVICE == "cuda" and not torch.cuda.is_available():
    raise pytest.UsageError("GAN_STUDIO_TEST_DEVICE=cuda but no CUDA GPU is available here")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def tiny_cfg(cache_dir):
    """Factory for a tiny config on TEST_DEVICE (cpu by default): tiny_cfg(dataset="faces", arch="dcgan",
    loss="ns", steps=3, ...)."""

    def make(dataset: str = "faces", arch: str = "dcgan", loss: str = "ns", steps: int = 3, image_size: int = 16,
             **sections) -> RunConfig:
        cfg = RunConfig().replace(
            data={"dataset": dataset, "image_size": image_size, "num_samples": 64, "cache_dir": cache_dir},
            model={"arch": arch, "z_dim": 16, "g_width": 8, "d_width": 8, "res_blocks": 1, "mlp_hidden": 16,
                   "embed_dim": 4},
            loss={"name": loss},
            train={"steps": steps, "batch_size": 8, "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
                   "device": TEST_DEVICE, "grid_size": 4},
        )
        return cfg.replace(**sections) if sections else cfg

    return make


@pytest.fixture
def media(monkeypatch):
    """AppTest pages: file id -> bytes of every image / download the app hands to the browser."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    seen: dict[str, bytes] = {}
    orig = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, *a, **k):
        fid = orig(self, path_or_data, *a, **k)
        seen[fid] = self.get_file(fid).content
        return fid

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return seen


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (for the browser tests, which skip at import when Playwright
    or Chromium is missing)."""
    from playwright.sync_api import sync_playwright

    from browser_helpers import launch_chromium

    with sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()
