"""Metrics: Fréchet distance against an independent reference, FID/KID/IS sanity with the shipped
classifiers, tag accuracy, the mode-collapse monitor and the job listener."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from gan_core import metrics as M
from gan_core.metrics.classifiers import FeatureExtractor, load_classifier
from gan_core.config import DataConfig
from gan_core.data import load_dataset
from gan_core.data.images import to_float, to_uint8
from gan_core.models.common import ConditionedLatent


# ---- an independent reference: the textbook formula with scipy's sqrtm -------------------------------
def reference_fid(f1: np.ndarray, f2: np.ndarray) -> float:
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def reference_kid(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the KID kernel k(a, b) = (a.b / d + 1)^3 over the full sets."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d, m, n = x.shape[1], len(x), len(y)
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def correlated_features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix) * scale + shift + rng.normal(size=d) * 0.1


@pytest.mark.parametrize("n,d,shift,scale", [(500, 8, 0.0, 1.0), (400, 32, 0.3, 1.5), (256, 128, 0.05, 0.7)])
def test_frechet_distance_agrees_with_scipy_reference(n, d, shift, scale):
    f1 = correlated_features(n, d, seed=1)
    f2 = correlated_features(n, d, seed=2, shift=shift, scale=scale)
    ref = reference_fid(f1, f2)
    mu1, s1 = M.feature_statistics(f1)
    mu2, s2 = M.feature_statistics(f2)
    np.testing.assert_allclose(s1, np.cov(f1, rowvar=False), atol=1e-12)
    ours = M.frechet_distance(mu1, s1, mu2, s2)
    tm = M.fid_from_features(torch.from_numpy(f1).float(), torch.from_numpy(f2).float()).value
    assert ref > 0.01
    assert abs(ours - ref) < 1e-3, (ours, ref)
    # torchmetrics sees float32 features (as it would from a network): same within 1e-3
    tm64 = M.fid_from_features(torch.from_numpy(f1), torch.from_numpy(f2)).value
    assert abs(tm64 - ref) < 1e-3, (tm64, ref)
    assert abs(tm - ref) < 1e-3 * max(1.0, ref), (tm, ref)
    # symmetric, and zero for identical statistics
    assert abs(M.frechet_distance(mu2, s2, mu1, s1) - ours) < 1e-6
    assert abs(M.frechet_distance(mu1, s1, mu1, s1)) < 1e-6


def test_frechet_distance_of_known_gaussians():
    # N(0, I) vs N(m, 4I) in d dims: |m|^2 + d (1 + 4 - 2 * 2) = |m|^2 + d
    d = 5
    m = np.arange(d, dtype=float)
    v = M.frechet_distance(np.zeros(d), np.eye(d), m, 4 * np.eye(d))
    assert v == pytest.approx(float(m @ m) + d, abs=1e-9)
    with pytest.raises(ValueError):
        M.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


class PixelProjection(FeatureExtractor):
    """A tiny deterministic extractor (fixed random projection of the pixels) for plumbing tests."""

    name = "pixel-projection"
    num_features = 12
    group_names = ("g",)
    num_classes = (5,)

    def __init__(self, pixels: int):
        g = torch.Generator().manual_seed(0)
        self.w = torch.randn(pixels, self.num_features, generator=g) / pixels ** 0.5
        self.v = torch.randn(self.num_features, 5, generator=g)

    def extract(self, images, batch_size=256):
        x = images.float().div(127.5).sub(1) if images.dtype == torch.uint8 else images.float()
        f = x.flatten(1) @ self.w
        return f, [f @ self.v]


def test_compute_fid_kid_is_pass_the_extractor_to_torchmetrics():
    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (200, 1, 8, 8), dtype=torch.uint8, generator=g)
    fake = torch.rand(150, 1, 8, 8, generator=g) * 0.8 - 0.9  # float in [-0.9, -0.1]: darker, less varied
    ext = PixelProjection(64)
    fid = M.compute_fid(real, fake, ext, batch_size=64)
    # the reference on the features of exactly what torchmetrics saw (fakes quantised to uint8)
    ref = reference_fid(ext.features(real).numpy(), ext.features(to_uint8(fake)).numpy())
    assert abs(fid.value - ref) < 1e-3
    assert (fid.n_real, fid.n_fake, fid.features) == (200, 150, "pixel-projection")
    assert "200 real" in fid.describe() and "150 generated" in fid.describe()
    kid_same = M.compute_kid(real[:100], real[100:], ext)
    kid_diff = M.compute_kid(real, fake, ext)
    # KID is an unbiased MMD^2 estimate: ~0 (within its subset spread) for two halves of one distribution,
    # and the mean over random subsets agrees with the full-set estimate (independent reference)
    assert abs(kid_same.value) < 3 * kid_same.std
    ref_kid = reference_kid(ext.features(real).numpy(), ext.features(to_uint8(fake)).numpy())
    assert ref_kid > 0.1 and abs(kid_diff.value - ref_kid) < 0.1 * ref_kid, (kid_diff.value, ref_kid)
    assert kid_diff.value > 10 * max(abs(kid_same.value), kid_same.std)
    assert kid_diff.to_dict()["n_fake"] == 150 and kid_diff.details["kid_subset_size"] == 75
    assert 0 < kid_diff.std < kid_diff.value
    # KID and IS do not touch the global RNG (a trainer may share the thread)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    M.compute_is(fake, ext)
    assert torch.equal(before, torch.random.get_rng_state())


def test_inception_score_from_logits_bounds():
    one_class = torch.full((200, 10), -20.0)
    one_class[:, 3] = 20.0
    assert M.inception_score_from_logits(one_class).value == pytest.approx(1.0, abs=1e-4)
    balanced = torch.full((200, 10), -20.0)
    balanced[torch.arange(200), torch.arange(200) % 10] = 20.0
    s = M.inception_score_from_logits(balanced, splits=1)
    assert s.value == pytest.approx(10.0, rel=1e-3) and s.n_fake == 200


@pytest.fixture(scope="module")
def digits32():
    ds = load_dataset(DataConfig(dataset="digits", image_size=32))
    return ds.images, ds.labels[:, 0]


@pytest.fixture(scope="module")
def faces_val(tmp_path_factory):
    """256 faces from a seed neither the GAN (0) nor the classifier (1, 2) saw."""
    ds = load_dataset(DataConfig(dataset="faces", image_size=32, num_samples=256, seed=7,
                                 cache_dir=str(tmp_path_factory.mktemp("faces"))))
    return ds.images, ds.labels


def test_shipped_classifiers_load_with_metadata():
    for name, ch, groups in (("digits", 1, ("digit",)), ("faces", 3, ("hair", "eye"))):
        ext = load_classifier(name)
        assert ext.name == f"{name}-classifier" and ext.info.channels == ch and ext.group_names == groups
        assert ext.info.extra["val_joint_accuracy"] >= 0.9 and ext.info.extra["n_val"] >= 300
        assert "scripts/train_classifiers.py" in ext.info.extra["command"] and ext.info.extra["n_train"] > 1000
        f, lg = ext.extract(torch.zeros(3, ch, 16, 16))  # any size: resized to the input size
        assert f.shape == (3, ext.num_features) and [l.shape[1] for l in lg] == list(ext.num_classes)
    assert load_classifier("faces") is load_classifier("faces")  # cached


def test_fid_kid_sanity_on_real_faces(faces_val):
    imgs, _ = faces_val
    a, b = imgs[:128], imgs[128:]
    same = M.compute_fid(a, a, "faces")
    assert abs(same.value) < 1e-3 and same.features == "faces-classifier" and same.n_real == 128
    halves = M.compute_fid(a, b, "faces")
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(128, 3, 32, 32, generator=g) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(to_float(b), 5, 1, 2)          # a "worse generator"
    worse = M.compute_fid(a, blurred, "faces")
    far = M.compute_fid(a, noise, "faces")
    assert halves.value < worse.value < far.value
    assert far.value > 5 * halves.value
    kid_halves = M.compute_kid(a, b, "faces")
    kid_far = M.compute_kid(a, noise, "faces")
    assert kid_far.value > 10 * max(kid_halves.value, 1e-6)


def test_inception_score_one_class_vs_all_classes(digits32):
    imgs, labels = digits32
    threes = imgs[labels == 3][:150]
    mixed = imgs[:150]
    is_one = M.compute_is(threes, "digits")
    is_all = M.compute_is(mixed, "digits")
    assert is_one.value < 1.3, is_one.describe()
    assert is_all.value > 6.0, is_all.describe()
    assert is_all.n_fake == 150 and is_all.features == "digits-classifier"


def test_classifier_accuracy_on_real_data_high_and_on_noise_low(faces_val, digits32):
    imgs, labels = faces_val
    acc = M.accuracy_on(imgs, labels, "faces")
    assert acc.value > 0.9 and acc.details["hair_accuracy"] > 0.95 and acc.n_real == 256, acc.to_dict()
    # the same faces at 16 and 64 px go through the classifier's resize
    for size in (16, 64):
        small = torch.nn.functional.interpolate(imgs.float(), size=(size, size), mode="bilinear",
                                                antialias=True).round().clamp(0, 255).to(torch.uint8)
        assert M.accuracy_on(small, labels, "faces").details["hair_accuracy"] > 0.9
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(256, 3, 32, 32, generator=g) * 2 - 1
    noise_acc = M.accuracy_on(noise, labels, "faces")
    assert noise_acc.value < 0.1 and noise_acc.details["eye_accuracy"] < 0.3
    d_imgs, d_labels = digits32
    assert M.accuracy_on(d_imgs[-300:], d_labels[-300:], "digits").value > 0.95


class LookupGenerator(nn.Module):
    """A "perfect" conditional generator: returns a real face with the requested tags (or, with
    ``wrong=True``, one with other tags). Shaped like the project's generators: it exposes z_dim and
    num_classes (what gan_core.models.latent.sample reads) and has parameters."""

    def __init__(self, images, labels, wrong=False):
        super().__init__()
        self.z_dim, self.num_classes = 8, (12, 11)
        self.cond = ConditionedLatent(8, (12, 11), 2)
        self.images, self.labels, self.wrong = to_float(images), labels, wrong

    def forward(self, z, y):
        out = []
        for i, (h, e) in enumerate(y.tolist()):
            match = (self.labels[:, 0] == h) & (self.labels[:, 1] == e)
            if self.wrong:
                match = (self.labels[:, 0] != h) & (self.labels[:, 1] != e)
            idx = torch.nonzero(match).flatten()
            out.append(self.images[idx[i % len(idx)]] if len(idx) else torch.zeros_like(self.images[0]))
        return torch.stack(out)


def test_tag_accuracy_and_confidence_of_a_conditional_generator():
    from gan_core.models import DataSpec
    from gan_core.data.tags import EYE_COLORS, HAIR_COLORS

    ds = load_dataset(DataConfig(dataset="faces", image_size=32, num_samples=1200, seed=0))
    spec = DataSpec.from_dataset(ds)
    # a bank where every tag pair exists: only pairs present are requested
    G = LookupGenerator(ds.images, ds.labels)
    acc = M.tag_accuracy(G, spec, "faces", n=96, seed=0)
    assert acc.n_fake == 96 and acc.features == "faces-classifier"
    assert acc.details["hair_accuracy"] > 0.9 and acc.value > 0.8, acc.to_dict()
    bad = M.tag_accuracy(LookupGenerator(ds.images, ds.labels, wrong=True), spec, "faces", n=96, seed=0)
    assert bad.value < 0.1 and bad.details["hair_accuracy"] < 0.1
    conf = M.classifier_confidence(G, spec, "faces", n=64, seed=0)
    assert conf.value > 0.8 and conf.details["accuracy"] > 0.8 and conf.details["hair_classes_seen"] >= 8
    assert len(HAIR_COLORS) == 12 and len(EYE_COLORS) == 11
    # same seed -> same samples -> same number
    assert M.tag_accuracy(G, spec, "faces", n=96, seed=0).value == acc.value


def test_tag_accuracy_of_an_untrained_generator_is_near_chance():
    from gan_core.config import ModelConfig
    from gan_core.models import DataSpec, build_models

    spec = DataSpec(channels=3, image_size=32, num_classes=(12, 11), group_names=("hair", "eye"))
    torch.manual_seed(0)
    G, _ = build_models(ModelConfig(arch="acgan", z_dim=16, g_width=8, d_width=8), spec)
    acc = M.tag_accuracy(G, spec, "faces", n=128, seed=0)
    assert acc.value < 0.1 and acc.details["hair_accuracy"] < 0.35
    with pytest.raises(ValueError):
        M.tag_accuracy(G, DataSpec(channels=1, num_classes=(10,), group_names=("digit",)), "faces", n=8)


def test_label_confidence_real_digits_vs_untrained_generator(digits32):
    from gan_core.config import ModelConfig
    from gan_core.models import DataSpec, build_models

    imgs, labels = digits32
    ext = load_classifier("digits")
    real = M.label_confidence(ext.logits(imgs[:200]), labels[:200])
    shuffled = M.label_confidence(ext.logits(imgs[:200]), labels[:200].roll(1))
    assert real > 0.9 and shuffled < 0.2, (real, shuffled)
    spec = DataSpec(channels=1, image_size=32, num_classes=(10,), group_names=("digit",))
    torch.manual_seed(0)
    G, _ = build_models(ModelConfig(arch="cgan", z_dim=16, g_width=8, d_width=8), spec)
    conf = M.classifier_confidence(G, spec, "digits", n=128, seed=0)
    assert conf.n_fake == 128 and conf.details["label_confidence"] < 0.3, conf.to_dict()
    assert conf.details["accuracy"] < 0.3


def test_diversity_and_mode_collapse_monitor(faces_val):
    imgs, _ = faces_val
    ext = load_classifier("faces")
    varied = ext.features(imgs[:64])
    collapsed = ext.features(imgs[:1].repeat(64, 1, 1, 1) )
    near = ext.features(imgs[:4].repeat(16, 1, 1, 1))  # 4 modes
    d_varied, d_collapsed, d_near = M.diversity(varied), M.diversity(collapsed), M.diversity(near)
    assert d_collapsed < 1e-4 < d_near < d_varied
    # a conditional G that ignores z: one image per tag pair. Across tags it still looks varied; the
    # pixel diversity among samples with the same tags exposes it
    _, labels = faces_val
    first = {}
    for i, t in enumerate(map(tuple, labels.tolist())):
        first.setdefault(t, i)
    idx = torch.tensor([first[t] for t in map(tuple, labels.tolist())])
    ignores_z = imgs[idx]
    real_within = M.diversity_within(M.pixel_features(imgs), labels)
    assert real_within > 1.0 and M.diversity_within(M.pixel_features(ignores_z), labels) < 1e-9
    assert M.diversity(ext.features(ignores_z)) > 0.5 * M.diversity(ext.features(imgs))
    assert M.diversity_within(M.pixel_features(imgs[:3]), torch.tensor([[0, 0], [1, 1], [2, 2]])) is None
    mon = M.ModeCollapseMonitor(drop_fraction=0.5, warmup=1, min_step=100)
    faces = {"coverage": 0.9}                                            # the evaluation: not noise
    assert mon.observe_diversity(100, 0.1 * d_varied, evidence=faces) is None   # warm-up: a fresh G
    assert mon.observe_diversity(200, 0.9 * d_varied, d_varied, evidence=faces) is None
    assert mon.observe_diversity(300, d_varied, d_varied, evidence=faces) is None
    msg = mon.observe_diversity(400, d_collapsed, d_varied, evidence=faces)
    assert msg is not None and "mode collapse" in msg and "step 400" in msg
    assert mon.observe_diversity(500, d_collapsed, d_varied, evidence=faces) is None      # once per episode
    assert mon.observe_diversity(600, d_varied, d_varied, evidence=faces) is None         # recovered: re-armed
    assert mon.observe_diversity(700, 0.3 * d_varied, d_varied, evidence=faces) is not None
    assert [a["step"] for a in mon.alerts] == [400, 700]


def test_monitor_d_saturation_needs_consecutive_windows():
    from gan_core.train.events import StepEvent

    def ev(step, dr, df):
        return StepEvent(step, 100, 0.1, 5.0, dr, df, 1, 1, 100, 2e-4, 2e-4, 1, 1.0, None, 0.1)

    mon = M.ModeCollapseMonitor(patience=3)
    seq = [(0.995, 0.005), (0.995, 0.005), (0.9, 0.1), (0.999, 0.001), (0.999, 0.002)]
    assert all(mon.observe_step_event(ev(i, *v), "ns") is None for i, v in enumerate(seq))
    msg = mon.observe_step_event(ev(5, 0.999, 0.001), "ns")
    assert msg is not None and "saturated" in msg
    assert mon.observe_step_event(ev(6, 0.999, 0.001), "ns") is None  # no repeat
    wgan = M.ModeCollapseMonitor(patience=1)
    assert wgan.observe_step_event(ev(0, 50.0, -50.0), "wgan-gp") is None  # raw critic scores: not judged


def test_inception_extractor_is_clear_when_unavailable():
    try:
        ext = M.inception_extractor()
    except M.MetricsUnavailable as e:
        msg = str(e)
        assert "torch-fidelity" in msg or "weights" in msg
        with pytest.raises(M.MetricsUnavailable):  # remembered, not retried
            M.get_extractor("inception")
    else:  # online with torch-fidelity: real Inception features
        f, lg = ext.extract(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
        assert f.shape == (2, 2048) and lg[0].shape == (2, 1008)


def test_metrics_listener_on_a_job_does_not_change_training(tiny_cfg, tmp_path):
    from gan_core.jobs.manager import JobManager

    cfg = tiny_cfg("faces", "acgan", "ns", steps=6,
                   train={"checkpoint_every": 3, "log_every": 2, "steps": 6, "batch_size": 8},
                   data={"num_samples": 64, "image_size": 16})
    results = {}
    for with_listener in (True, False):
        mgr = JobManager(runs_dir=tmp_path)
        if with_listener:
            listener = M.install_default_listeners(mgr, every_n_steps=3, n_samples=32)
            assert M.install_default_listeners(mgr) is listener and mgr.listeners.count(listener) == 1
        job = mgr.start(cfg, owner="t", run_dir=str(tmp_path / f"run{with_listener}"))
        assert job.wait(120)
        snap = job.snapshot()
        assert snap.status == "done", (snap.error, snap.notes)
        results[with_listener] = (snap, torch.load(tmp_path / f"run{with_listener}" / "last.pt", weights_only=True))
    snap, state = results[True]
    rows = snap.extras["metrics"]
    assert [r["step"] for r in rows] == [3, 6]
    r = rows[-1]
    assert r["n_real"] == 32 and r["n_fake"] == 32 and r["features"] == "faces-classifier"
    for k in ("fid", "kid", "is", "diversity", "tag_accuracy", "hair_accuracy", "eye_accuracy", "confidence"):
        assert np.isfinite(r[k]), k
    assert "32 real vs 32 generated" in r["label"]
    assert "metrics" not in results[False][0].extras
    # the same rows are in the run dir for a UI without the live job
    saved = M.load_eval_metrics(tmp_path / "runTrue")
    assert [x["step"] for x in saved["metrics"]] == [3, 6] and saved["metrics"][-1]["fid"] == r["fid"]
    assert saved["alerts"] == snap.extras.get("alerts", [])
    assert not (tmp_path / "runFalse" / M.EVAL_FILE).exists()
    # evaluating in the training thread must not perturb the run (global RNG, modes)
    other = results[False][1]
    for k, v in state["G"].items():
        assert torch.equal(v, other["G"][k]), k


def test_listener_file_rows_and_resume_truncation(tmp_path):
    """The run-dir file mirrors job extras; a resumed run drops the rows after its start step."""
    from types import SimpleNamespace

    from gan_core.config import RunConfig
    from gan_core.train.events import StartEvent, StepEvent

    extras = {}
    job = SimpleNamespace(id=1, run_dir=tmp_path, cfg=RunConfig().replace(loss={"name": "ns"}),
                          add_extra=lambda k, row: extras.setdefault(k, []).append(row))
    listener = M.MetricsListener(every_n_steps=10, n_samples=8)
    listener._publish(job, "metrics", {"step": 10, "fid": 1.5})
    listener._publish(job, "metrics", {"step": 20, "fid": 1.0})

    def ev(step, dr, df):
        return StepEvent(step, 100, 0.1, 5.0, dr, df, 1, 1, 100, 2e-4, 2e-4, 1, 1.0, None, 0.1)

    for s in (21, 22, 23):  # D saturated for 3 log windows -> one alert row, in extras and the file
        listener(job, ev(s, 0.999, 0.001))
    saved = M.load_eval_metrics(tmp_path)
    assert saved["metrics"] == extras["metrics"] and [r["step"] for r in saved["metrics"]] == [10, 20]
    assert len(saved["alerts"]) == 1 and saved["alerts"][0]["kind"] == "d_saturation" == extras["alerts"][0]["kind"]
    with open(tmp_path / M.EVAL_FILE, "a") as f:
        f.write('{"extra": "metrics", "row": {"step": 30, "fi')  # a line cut short by a crash
    assert [r["step"] for r in M.load_eval_metrics(tmp_path)["metrics"]] == [10, 20]
    listener(job, StartEvent(str(tmp_path), {}, {}, "cpu", 10, 1, 1, start_step=10))  # resumed from step 10
    assert [r["step"] for r in M.load_eval_metrics(tmp_path)["metrics"]] == [10]
    assert M.load_eval_metrics(tmp_path / "nope") == {"metrics": [], "alerts": [], "metrics_status": []}
