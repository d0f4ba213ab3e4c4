"""Seeds worth showing first (gan_core.studio.seeds, issue 23 item 23): Interpolate opened on seeds 0 and 1,
nearly the same face for the shipped faces generator, and latent arithmetic on four near-identical faces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gan_core.models import latent
from gan_core import studio
from gan_core.studio import seeds as S

FACES = Path(__file__).resolve().parents[1] / "checkpoints" / "faces.safetensors"


@pytest.fixture(scope="module")
def faces():
    return studio.load_generator_cached(FACES)


def test_the_distance_ignores_the_background_colour_and_sees_the_silhouette():
    face = -torch.ones(1, 3, 32, 32)                     # black background
    face[..., 8:24, 10:22] = 1.0                          # a white "face"
    other_bg = face.clone()
    other_bg[other_bg < 0] = 0.4                          # the same face on a grey background
    long_hair = face.clone()
    long_hair[..., 8:32, 8:24] = 1.0                      # reaching the bottom: another silhouette
    f = S._structure(torch.cat([face, other_bg, long_hair]))
    d = torch.cdist(f, f)
    assert d[0, 1] < 0.05 * d[0, 2]


def test_interpolate_opens_on_a_pair_that_differs_more_than_seeds_0_and_1(faces):
    G, cfg, spec = faces
    d = studio.seed_distances(G, cfg, spec, range(S.CANDIDATES))
    a, b = studio.distinct_seeds(G, cfg, spec, 2)
    assert d[a, b] == pytest.approx(d.max())              # the farthest pair of the candidates
    assert (a, b) != (0, 1) and d[a, b] > 1.3 * d[0, 1]   # and visibly farther apart than seeds 0 and 1
    three = studio.distinct_seeds(G, cfg, spec, 3)        # latent arithmetic's three seeds
    assert three[:2] == (a, b) and len(set(three)) == 3
    assert min(d[i, j] for i in three for j in three if i != j) > np.median(d[d > 0])


def test_the_choice_is_cached_per_generator(faces, monkeypatch):
    G, cfg, spec = faces
    first = studio.distinct_seeds(G, cfg, spec, 4)
    calls = []
    monkeypatch.setattr(latent, "sample", lambda *a, **k: calls.append(1))
    assert studio.distinct_seeds(G, cfg, spec, 4) == first and not calls


def test_a_loop_through_several_seeds_comes_back_to_the_first(faces):
    G, cfg, spec = faces
    seeds = studio.distinct_seeds(G, cfg, spec, 3)
    frames = studio.seed_loop_frames(G, cfg, spec, seeds, steps=4, tags=[0, 0])
    assert len(frames) == 3 * 4                           # three legs, no frame twice where legs meet
    starts = [studio.interpolation_frames(G, cfg, spec, s, s, steps=2, tags_a=[0, 0], tags_b=[0, 0])[0]
              for s in seeds]
    for i, start in enumerate(starts):                    # each leg starts on its seed's picture
        assert np.abs(frames[4 * i].astype(int) - start.astype(int)).max() <= 1
    gif = studio.frames_to_gif(frames, fps=8)
    assert gif[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="two seeds"):
        studio.seed_loop_frames(G, cfg, spec, seeds[:1])
