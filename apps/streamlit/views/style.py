"""Style: neural style transfer (Gatys et al. 2016) of a content picture in the style of another, with
live previews. Widgets -> gan_core.img2img.style.StyleConfig; the optimisation runs in this script and its typed
events (gan_core.img2img.style.stylize) update a progress bar, the losses and the preview image."""
from __future__ import annotations

import streamlit as st

from gan_core import studio
from gan_core.img2img import style as S
from apps.streamlit.common import page_start, png_download, show_image

K = "style."
EXAMPLE, UPLOAD = "Built-in example: a procedural face and a pattern", "Upload your own pictures"
BETAS = [10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 1e6]

page_start()
ss = st.session_state


def _network():
    """VGG19 through studio.VGG (one behaviour for both fronts: a local file once per version, else one
    download; a failure is remembered, so the page says it before the button is pressed)."""
    msg = "Downloading VGG19 (548 MB) with torchvision ..." if studio.VGG.will_download() else "Loading VGG19 ..."
    with st.spinner(msg):
        return studio.VGG.network()


st.title("Style transfer")
st.caption("Gatys, Ecker & Bethge (2016): an image is optimised so that its VGG19 features match the content "
           "picture while the Gram matrices of several layers match the style picture: "
           "loss = alpha * content + beta * sum_l w_l E_l. Max pooling is replaced by average pooling, as in the "
           "paper.")

notice = studio.VGG.notice()
if notice is not None:
    (st.error if notice[0] == "error" else st.info)(
        notice[1], icon=":material/cloud_off:" if notice[0] == "error" else ":material/cloud_download:")

source = st.radio("Pictures", [EXAMPLE, UPLOAD], key=K + "source", horizontal=True)
content = style_img = None
if source == EXAMPLE:
    seed = int(st.number_input("Example seed", 0, 10_000, 0, key=K + "seed"))
    content, style_img = S.example_pair(256, seed)
else:
    u1, u2 = st.columns(2)
    with u1:
        up_c = st.file_uploader("Content picture", type=["png", "jpg", "jpeg", "webp", "bmp"], key=K + "up_c")
    with u2:
        up_s = st.file_uploader("Style picture", type=["png", "jpg", "jpeg", "webp", "bmp"], key=K + "up_s")
    try:
        content = S.read_image(up_c.getvalue()) if up_c is not None else None
        style_img = S.read_image(up_s.getvalue()) if up_s is not None else None
    except S.StyleError as e:
        st.error(str(e))
c1, c2 = st.columns(2)
with c1:
    if content is not None:
        st.image(content, caption="content", width=256)
with c2:
    if style_img is not None:
        st.image(style_img, caption="style", width=256)

with st.form(K + "form", border=True):
    f1, f2, f3 = st.columns(3)
    with f1:
        steps = st.slider("Steps", 5, 1000, 100, step=5, key=K + "steps",
                          help="Optimiser iterations. On a CPU, 256 px takes a few seconds per step.")
        size = st.slider("Size (longest side, px)", 64, 512, 192, step=32, key=K + "size")
    with f2:
        alpha = st.number_input("alpha (content weight)", 0.0, 1e6, 1.0, key=K + "alpha")
        beta = st.select_slider("beta (style weight)", BETAS, value=1e3, key=K + "beta",
                                help="alpha/beta = 1e-3 to 1e-4 in the paper's figures; higher beta: more style.")
        optimizer = st.selectbox("Optimiser", S.OPTIMIZERS, key=K + "opt", help="L-BFGS as in the paper, or Adam")
    with f3:
        init = st.selectbox("Start from", S.INITS, key=K + "init")
        preview_every = st.slider("Preview every (steps)", 1, 50, 5, key=K + "preview")
    names = [f"relu{b}_{k}" for b, n in zip(range(1, 6), (2, 2, 4, 4, 4)) for k in range(1, n + 1)]
    l1, l2 = st.columns(2)
    with l1:
        content_layers = st.multiselect("Content layers", names, default=["relu4_2"], key=K + "cl")
    with l2:
        style_layers = st.multiselect("Style layers", names,
                                      default=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], key=K + "sl")
    weights_txt = st.text_input("Style layer weights w_l (comma list, one per style layer)", "", key=K + "wl",
                                help="Empty: proportional to 1/N_l^2 (N_l feature maps), normalised to sum to 1.")
    run = st.form_submit_button("Stylize", type="primary", icon=":material/brush:",
                                disabled=content is None or style_img is None)

if run:
    try:
        w = tuple(float(v) for v in weights_txt.split(",") if v.strip()) or None
    except ValueError:
        st.error(f"Style layer weights must be numbers separated by commas, got {weights_txt!r}")
        st.stop()
    cfg = S.StyleConfig(steps=steps, image_size=size, content_layers=tuple(content_layers),
                        style_layers=tuple(style_layers), style_weights=w, alpha=float(alpha), beta=float(beta),
                        optimizer=optimizer, init=init, preview_every=preview_every)
    try:
        cfg.validate()
        net = _network()
        S.check_layers(net, cfg)
    except S.WeightsUnavailable as e:
        st.error(str(e), icon=":material/cloud_off:")
        st.stop()
    except S.StyleError as e:
        st.error(str(e))
        st.stop()
    bar = st.progress(0.0, text="starting ...")
    p1, p2 = st.columns([1, 1])
    with p1:
        preview = st.empty()
    with p2:
        losses = st.empty()
    try:
        for ev in S.stylize(content, style_img, cfg, net=net):
            if isinstance(ev, S.StyleStep):
                bar.progress(ev.step / ev.steps, text=f"step {ev.step}/{ev.steps} · {ev.seconds:.0f} s")
                losses.markdown(f"**loss** {ev.loss:.4g}  \n**content** {ev.content:.4g}  \n"
                                f"**style** (sum w_l E_l) {ev.style:.4g}")
            elif isinstance(ev, S.StylePreview):
                preview.image(ev.image, caption=f"step {ev.step}", width=256)
            elif isinstance(ev, S.StyleDone):
                ss[K + "result"] = ev
    except S.StyleError as e:
        st.error(str(e))
        st.stop()

done = ss.get(K + "result")
if done is not None:
    st.subheader("Result")
    show_image(done.image, caption=f"{done.steps} steps · loss {done.first_loss:.4g} -> {done.loss:.4g} · "
               f"{done.seconds:.1f} s", min_size=256)
    png_download(done.image, "stylized.png", key=K + "dl")
