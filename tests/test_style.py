"""Style transfer (gan_core/img2img/style.py and ``python -m gan_core stylize``): the mechanics on a small randomly
initialised VGG-shaped network (the real VGG19 weights cannot be downloaded in the tests)."""
from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from gan_core.img2img import style as S
from gan_core.cli import main

# VGG19's layout (2, 2, 4, 4, 4 convs per block, 5 average poolings) with few channels
TINY_CFG = (4, 4, "M", 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M")


@pytest.fixture
def tiny_net() -> nn.Sequential:
    torch.manual_seed(0)
    return S.make_vgg_features(TINY_CFG)


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    return S.example_pair(32)


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    """No GAN_STUDIO_VGG19, an empty torch hub cache and a network that refuses every download."""
    import torchvision.models._api as api

    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.delenv(S.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(api, "load_state_dict_from_url", offline)


@pytest.fixture(autouse=True)
def fresh_vgg(monkeypatch):
    """Each test its own studio.VGG (it remembers a failed download for the process)."""
    from gan_core import studio

    monkeypatch.setattr(studio, "VGG", studio.VggLoader())


def test_gram_matrix_against_hand_computed_values():
    # F: 2 feature maps over 2 x 2 positions, seen as rows (1, 2, 3, 4) and (0, 1, 0, -1)
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, -1.0]]]])  # (1, 2, 2, 2)
    g = S.gram_matrix(f)
    # G_ij = sum_k F_ik F_jk: 1+4+9+16 = 30, 0+2+0-4 = -2, 0+1+0+1 = 2
    assert g.shape == (1, 2, 2)
    assert torch.equal(g, torch.tensor([[[30.0, -2.0], [-2.0, 2.0]]]))
    # a batch of two: each image has its own Gram matrix
    g2 = S.gram_matrix(torch.cat([f, 2 * f]))
    assert torch.equal(g2[1], 4 * g2[0])


def test_style_and_content_losses_against_the_papers_formulas():
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, -1.0]]]])  # N = 2, M = 4
    a = torch.tensor([[[28.0, -2.0], [-2.0, 0.0]]])
    # E = sum (G - A)^2 / (4 N^2 M^2) = (2^2 + 0 + 0 + 2^2) / (4 * 4 * 16) = 8 / 256
    assert S.style_layer_loss(f, a).item() == pytest.approx(8 / 256)
    p = f + torch.tensor([1.0, 0, 0, 0, 0, 0, 0, -3.0]).view(1, 2, 2, 2)
    # 1/2 sum (F - P)^2 / (N M) = 0.5 * (1 + 9) / 8
    assert S.content_layer_loss(f, p).item() == pytest.approx(0.625)


def test_network_has_vgg19_layout_with_average_pooling():
    from torchvision.models.vgg import cfgs, make_layers

    ref = make_layers(cfgs["E"])  # torchvision's VGG19 features (max pooling), randomly initialised
    net = S.vgg_from_state_dict({f"features.{k}": v for k, v in ref.state_dict().items()})
    names = S.layer_names(net)
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert "relu4_2" in names and names[-1] == "pool5" and len(names) == len(ref)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net)
    assert sum(isinstance(m, nn.AvgPool2d) for m in net) == 5
    for i, m in enumerate(ref):  # the same network once max pooling is replaced by average pooling
        if isinstance(m, nn.MaxPool2d):
            ref[i] = nn.AvgPool2d(2, 2)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net(x), ref(x), atol=1e-5)
    assert not any(p.requires_grad for p in net.parameters())
    # a VGG-shaped state dict of make_vgg_features round-trips too
    again = S.vgg_from_state_dict(net.state_dict())
    with torch.no_grad():
        assert torch.equal(again(x), net(x))


@pytest.mark.parametrize("optimizer,steps", [("lbfgs", 8), ("adam", 25)])
def test_loss_goes_down_and_image_changes(tiny_net, pair, optimizer, steps):
    content, style_img = pair
    cfg = S.StyleConfig(steps=steps, image_size=32, optimizer=optimizer, preview_every=4)
    events = list(S.stylize(content, style_img, cfg, net=tiny_net))
    step_events = [e for e in events if isinstance(e, S.StyleStep)]
    previews = [e for e in events if isinstance(e, S.StylePreview)]
    done = events[-1]
    assert isinstance(done, S.StyleDone)
    assert [e.step for e in step_events] == list(range(1, steps + 1))
    assert [p.step for p in previews] == [k for k in range(4, steps, 4)] + [steps]
    assert set(step_events[0].style_layers) == set(cfg.style_layers)
    # loss = alpha * content + beta * sum w_l E_l, as reported
    e = step_events[-1]
    w = S.default_layer_weights(tiny_net, cfg.style_layers)
    assert e.loss == pytest.approx(cfg.alpha * e.content + cfg.beta * sum(wl * e.style_layers[n] for wl, n in
                                                                            zip(w, cfg.style_layers)), rel=1e-4)
    assert done.loss < 0.5 * done.first_loss
    assert step_events[-1].loss < step_events[0].loss
    assert done.image.shape == (32, 32, 3) and done.image.dtype == np.uint8
    diff = np.abs(done.image.astype(int) - content.astype(int)).mean()
    assert diff > 2.0  # started from the content image, and moved away from it
    assert not np.array_equal(previews[0].image, done.image)


def _loss_of_picture(net, cfg, picture, content, style_img):
    """alpha * L_content + beta * sum_l w_l E_l of a uint8 picture, computed here from the paper's formulas."""
    def t(a):
        x = torch.tensor(a).permute(2, 0, 1)[None].float() / 255.0
        return (x - torch.tensor(S.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(S.IMAGENET_STD).view(1, 3, 1, 1)

    layers = tuple(dict.fromkeys(cfg.content_layers + cfg.style_layers))
    with torch.no_grad():
        f, fc, fs = (S.extract(net, t(a), layers) for a in (picture, content, style_img))
        lc = sum(S.content_layer_loss(f[n], fc[n]) for n in cfg.content_layers)
        w = S.default_layer_weights(net, cfg.style_layers)
        ls = sum(wl * S.style_layer_loss(f[n], S.gram_matrix(fs[n])) for wl, n in zip(w, cfg.style_layers))
    return float(cfg.alpha * lc + cfg.beta * ls)


def test_lbfgs_keeps_the_picture_in_range_and_reports_the_saved_pictures_loss(tiny_net, pair):
    # issue 23 item 14: L-BFGS clipped to [0, 1] only at the end, so the printed loss belonged to an image it
    # never saved. Strong style weight and noise start: the unclamped optimum lies far outside [0, 1].
    content, style_img = pair
    cfg = S.StyleConfig(steps=6, image_size=32, optimizer="lbfgs", init="noise", beta=1e4, preview_every=0)
    events = list(S.stylize(content, style_img, cfg, net=tiny_net))
    done, last_step = events[-1], [e for e in events if isinstance(e, S.StyleStep)][-1]
    saved = _loss_of_picture(tiny_net, cfg, done.image, content, style_img)
    assert done.loss == pytest.approx(saved, rel=1e-3)           # the loss said is the saved picture's
    assert last_step.loss == pytest.approx(saved, rel=0.05)      # ... and the last step's (8-bit rounding apart)
    assert done.loss < done.first_loss


def test_noise_init_and_explicit_layer_weights(tiny_net, pair):
    content, style_img = pair
    cfg = S.StyleConfig(steps=15, image_size=32, optimizer="adam", init="noise", lr=0.05,
                        style_layers=("relu1_1", "relu2_1"), style_weights=(0.5, 0.5), preview_every=0)
    done = S.run_style_transfer(content, style_img, cfg, net=tiny_net)
    assert done.layer_weights == {"relu1_1": 0.5, "relu2_1": 0.5}
    assert done.loss < done.first_loss


def test_bad_settings_are_refused(tiny_net, pair):
    with pytest.raises(S.StyleError, match="style.steps"):
        S.StyleConfig(steps=0).validate()
    with pytest.raises(S.StyleError, match="style.optimizer"):
        S.StyleConfig(optimizer="sgd").validate()
    with pytest.raises(S.StyleError, match="style_weights"):
        S.StyleConfig(style_weights=(1.0,)).validate()
    with pytest.raises(S.StyleError, match="no layer relu9_1"):
        next(S.stylize(*pair, S.StyleConfig(steps=1, style_layers=("relu9_1",)), net=tiny_net))


def test_offline_without_weights_says_so_and_how_to_supply_them(no_weights, pair):
    with pytest.raises(S.WeightsUnavailable) as info:
        S.load_vgg19()
    msg = str(info.value)
    assert "none are available" in msg and "could not download" in msg and "URLError" in msg
    assert "GAN_STUDIO_VGG19=" in msg and "vgg19-dcbb9e9d.pth" in msg
    with pytest.raises(S.WeightsUnavailable, match="downloads are turned off"):
        S.load_vgg19(download=False)
    with pytest.raises(S.WeightsUnavailable):  # stylize says it before any event
        next(S.stylize(*pair, S.StyleConfig(steps=1)))


def test_weights_from_env_var_and_bad_files(monkeypatch, tmp_path, tiny_net):
    path = tmp_path / "tiny_vgg.pth"
    torch.save(tiny_net.state_dict(), path)
    monkeypatch.setenv(S.ENV_VAR, str(path))
    net = S.load_vgg19()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x), tiny_net(x))
    monkeypatch.setenv(S.ENV_VAR, str(tmp_path / "missing.pth"))
    with pytest.raises(S.StyleError, match="does not exist.*GAN_STUDIO_VGG19"):
        S.load_vgg19()
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(S.StyleError, match="cannot read"):
        S.load_weights_file(junk)
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "notvgg.pth")
    with pytest.raises(S.StyleError, match="no VGG convolutions"):
        S.load_weights_file(tmp_path / "notvgg.pth")


def _write_pair(tmp_path):
    content, style_img = S.example_pair(40)
    Image.fromarray(content).save(tmp_path / "content.png")
    Image.fromarray(style_img).save(tmp_path / "style.png")
    return tmp_path / "content.png", tmp_path / "style.png"


def test_cli_stylize(tmp_path, tiny_net, capsys, monkeypatch):
    c, s = _write_pair(tmp_path)
    weights = tmp_path / "tiny_vgg.pth"
    torch.save(tiny_net.state_dict(), weights)
    out = tmp_path / "out.png"
    rc = main(["stylize", "--content", str(c), "--style", str(s), "--out", str(out), "--steps", "6",
               "--size", "32", "--weights", str(weights)])
    assert rc == 0
    cap = capsys.readouterr()
    assert "stylize" in cap.err and "6/6" in cap.err  # the tqdm bar
    assert "wrote" in cap.out
    img = np.asarray(Image.open(out))
    assert img.shape == (32, 32, 3)
    assert np.abs(img.astype(int) - np.asarray(Image.open(c).resize((32, 32))).astype(int)).mean() > 1.0
    # the weights from the environment variable, Adam, JPEG output
    monkeypatch.setenv(S.ENV_VAR, str(weights))
    out2 = tmp_path / "out.jpg"
    assert main(["stylize", "--content", str(c), "--style", str(s), "--out", str(out2), "--steps", "3",
                 "--size", "24", "--optimizer", "adam", "--style-weights", "1,1,1,1,1", "--quiet"]) == 0
    assert Image.open(out2).format == "JPEG"


def test_cli_stylize_errors(tmp_path, no_weights, capsys, tiny_net):
    c, s = _write_pair(tmp_path)
    out = tmp_path / "out.png"
    assert main(["stylize", "--content", str(c), "--style", str(s), "--out", str(out), "--steps", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Style transfer needs the ImageNet weights of VGG19")
    assert "GAN_STUDIO_VGG19" in err and "vgg19-dcbb9e9d.pth" in err and "Traceback" not in err
    assert not out.exists()
    weights = tmp_path / "w.pth"
    torch.save(tiny_net.state_dict(), weights)
    for argv, what in ((["--content", str(tmp_path / "nope.png")], "does not exist"),
                       (["--out", str(tmp_path / "out.gif")], "must end in"),
                       (["--style-weights", "1,x"], "comma list of numbers"),
                       (["--style-layers", "relu9_1"], "no layer relu9_1"),
                       (["--steps", "0"], "style.steps")):
        base = {"--content": str(c), "--style": str(s), "--out": str(out), "--steps": "2", "--weights": str(weights)}
        base.update(dict(zip(argv[::2], argv[1::2])))
        assert main(["stylize", *[x for kv in base.items() for x in kv]]) == 2
        assert what in capsys.readouterr().err


# ---- the Style page (AppTest) ----------------------------------------------------------------------
def _style_page():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.switch_page("apps/streamlit/views/style.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_style_page_offline_says_so(no_weights):
    at = _style_page()
    assert "No local VGG19 weights" in at.info[0].value
    assert len(at.image) >= 2  # the built-in example pair is shown
    at.slider(key="style.steps").set_value(5)
    at.button[0].click().run()  # Stylize: the download fails
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "GAN_STUDIO_VGG19=" in errors[0] and "vgg19-dcbb9e9d.pth" in errors[0]
    at.run()  # the message stays on the page instead of a new download attempt
    assert "could not download" in at.error[0].value


def test_style_page_runs_with_local_weights(monkeypatch, tmp_path, tiny_net):
    weights = tmp_path / "tiny_vgg.pth"
    torch.save(tiny_net.state_dict(), weights)
    monkeypatch.setenv(S.ENV_VAR, str(weights))
    at = _style_page()
    assert not at.info  # weights found: no offline note
    at.slider(key="style.steps").set_value(10)
    at.slider(key="style.size").set_value(64)
    at.slider(key="style.preview").set_value(5)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any(s.value == "Result" for s in at.subheader)
    captions = [c for img in at.image for c in img.captions]
    assert "step 10" in captions  # the preview placeholder, last updated at the end
    assert any(c.startswith("10 steps · loss") for c in captions)  # the result
    assert [b.key for b in at.get("download_button")] == ["style.dl"]
    assert "**loss**" in at.markdown[0].value
