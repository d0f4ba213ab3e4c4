"""Precision / recall / density / coverage and the same-tag diversity ratio against hand-computed
values, and the collapse alert on a real generator that ignores z (the faces ACGAN shipped until
2026-11-25, kept as tests/fixtures/faces_ignores_z.safetensors)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan_core import metrics as M
from gan_core.storage.checkpoint import load_generator
from gan_core.metrics.classifiers import load_classifier
from gan_core.config import DataConfig
from gan_core.data import load_dataset
from gan_core.metrics.fidelity import diversity_ratio, knn_radii, prdc, within_tag_spread

FIXTURE = Path(__file__).parent / "fixtures" / "faces_ignores_z.safetensors"


def test_prdc_hand_computed_1d():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0]])
    assert knn_radii(real, 1).tolist() == [1.0, 1.0, 1.0, 1.0]
    r = prdc(real, fake, k=1)
    # precision: 0.5 lies in the balls of reals 0 and 1, 10 in none -> 1/2
    # recall: the fakes' 1-NN radius is 9.5, every real is within 9.5 of 0.5 -> 1
    # density: (2 balls around 0.5 + 0 around 10) / (k=1 * 2 fakes) -> 1
    # coverage: reals 0 and 1 have a fake within their radius 1, reals 2 and 3 do not -> 1/2
    assert (r.precision, r.recall, r.density, r.coverage) == (0.5, 1.0, 1.0, 0.5)
    assert (r.k, r.n_real, r.n_fake) == (1, 4, 2)


def test_prdc_open_balls_as_the_reference():
    # Issue 23 item 16: the reference prdc uses open balls (<). A memorising generator (fakes == reals)
    # then has density exactly 1.0; closed balls (<=) gave (k+1)/k = 1.2 for k=5.
    g = torch.Generator().manual_seed(1)
    real = torch.randn(200, 6, generator=g)
    r = prdc(real, real.clone(), k=5)
    assert r.density == pytest.approx(1.0)
    assert (r.precision, r.recall, r.coverage) == (1.0, 1.0, 1.0)
    # a fake exactly on a real ball's edge is outside it: reals 0, 1, 2 (radius 1 for k=1), fake at 2
    # is inside only real 2's ball (distance 0), not real 1's (distance 1 = radius)
    e = prdc(torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[2.0], [7.0]]), k=1)
    assert e.density == pytest.approx(0.5)


def test_prdc_same_distribution_vs_collapsed():
    g = torch.Generator().manual_seed(0)
    real, same = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    ok = prdc(real, same, k=5)
    assert ok.precision > 0.85 and ok.recall > 0.85 and 0.8 < ok.density < 1.2 and ok.coverage > 0.85
    collapsed = real[:3].repeat(134, 1)[:400] + 0.01 * torch.randn(400, 8, generator=g)
    bad = prdc(real, collapsed, k=5)
    assert bad.precision > 0.9            # each fake looks real ...
    assert bad.recall < 0.1 and bad.coverage < 0.1   # ... but they cover almost nothing


def test_within_tag_spread_hand_computed():
    f = torch.tensor([[0.0], [2.0], [5.0], [1.0], [1.0], [4.0]])
    y = torch.tensor([[0], [0], [1], [2], [2], [2]])
    # group 0: mean 1, squares 1 + 1 = 2, dof 1; group 1 has one sample (left out);
    # group 2: mean 2, squares 1 + 1 + 4 = 6, dof 2 -> sqrt((2 + 6) / 3)
    spread, used = within_tag_spread(f, y)
    assert spread == pytest.approx((8 / 3) ** 0.5) and used == 5
    assert within_tag_spread(f[:3], torch.tensor([[0], [1], [2]])) == (None, 0)
    assert diversity_ratio(f, y, 2 * f, y) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def real_faces(cache_dir):
    ds = load_dataset(DataConfig(dataset="faces", image_size=32, num_samples=600, seed=3, cache_dir=cache_dir))
    return ds.images, ds.labels


def test_diversity_ratio_real_vs_real_is_near_one(real_faces):
    imgs, labels = real_faces
    a, b = slice(0, 300), slice(300, 600)
    px = M.pixel_features(imgs, size=32)
    assert 0.85 < diversity_ratio(px[a], labels[a], px[b], labels[b]) < 1.15


def test_generator_that_ignores_z_is_caught_and_real_data_is_not(real_faces):
    imgs, labels = real_faces
    G, _, spec = load_generator(FIXTURE)
    ext = load_classifier("faces")
    ref = M.real_reference(imgs, ext, n=300, seed=0, labels=labels)
    row = M.evaluate_generator(G, spec, ext, ref, n=300, seed=0)
    # the classifier-based scores look fine ...
    assert row["tag_accuracy"] > 0.75
    # ... but samples that share tags are nearly the same image
    assert row["diversity_ratio"] < 0.15
    # (recall / coverage on the tag classifier's features see it only with many samples per tag pair:
    # 0.24 / 0.28 with 1000 samples, ~0.97 with these 300; the pixel ratio sees it at any size)
    assert {"precision", "recall", "density", "coverage"} <= set(row)
    assert "same-tag diversity" in row["label"] and "300 real vs 300 generated" in row["label"]
    mon = M.ModeCollapseMonitor()
    msg = mon.observe_diversity_ratio(3000, row["diversity_ratio"], evidence=row)   # clear faces: judged
    assert msg is not None and "ignores z" in msg and "step 3000" in msg and "no longer noise" in msg
    assert mon.observe_diversity_ratio(3500, row["diversity_ratio"], evidence=row) is None   # once per episode
    # real images judged as if generated: no alert
    real_row_ratio = diversity_ratio(M.pixel_features(imgs[300:], 32), labels[300:], ref.pixels, ref.labels)
    assert real_row_ratio > 0.8
    assert M.ModeCollapseMonitor().observe_diversity_ratio(3000, real_row_ratio, evidence=row) is None
