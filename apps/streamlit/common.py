"""Streamlit-specific helpers: the owner secret (a cookie) and admin mode, cached generators, checkpoint and tag pickers, downloads."""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import streamlit as st

from gan_core import studio
from gan_core.config.arguments import arg_spec
from gan_core.studio import views
from gan_core.storage.checkpoint import CheckpointError

OWNER_PARAM = "owner"             # legacy: an owner token in the URL is removed and never trusted
OWNER_COOKIE = "gan_studio_owner"
_OWNER_KEY = "_owner_token"
_ADMIN_KEY = "_is_admin"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
COOKIE_DAYS = 30
RANDOM = "random"


def page_start() -> None:
    """Every page calls this first: the sidebar's admin box (when $GAN_STUDIO_ADMIN_TOKEN is set).

    (The pages live in apps/streamlit/views/, not in a ``pages/`` folder, so Streamlit never starts its legacy
    page discovery: a deep link such as ``/train`` on a fresh server is routed by app.py's ``st.navigation``.)"""
    admin_login()


def read_owner_cookie() -> Optional[str]:
    """The owner secret this browser sent with the page request (``st.context.cookies``), if valid."""
    try:
        v = st.context.cookies.get(OWNER_COOKIE)
    except Exception:  # noqa: BLE001 - no client context (e.g. a bare script run)
        return None
    return v if isinstance(v, str) and _TOKEN_RE.match(v) else None


def _set_cookie_js(token: str) -> str:
    return ("<script>document.cookie = " + json.dumps(f"{OWNER_COOKIE}={token}; path=/; "
                                                       f"max-age={COOKIE_DAYS * 86400}; SameSite=Strict")
            + " + (location.protocol === 'https:' ? '; Secure' : '');</script>")


def owner_token() -> str:
    """This browser's identity for the job manager: a random secret kept in a cookie (never in the URL).

    A reload (a new Streamlit session) sends the cookie back, so the browser that started a run keeps
    control of it; a copied link carries no secret, so whoever opens it only watches (view-only).
    The first visit draws a secret and has the browser store it (``SameSite=Strict``, 30 days)."""
    tok = st.session_state.get(_OWNER_KEY)
    if not tok:
        tok = read_owner_cookie()
        st.session_state["_owner_cookie_known"] = tok is not None
        tok = tok or secrets.token_urlsafe(24)
        st.session_state[_OWNER_KEY] = tok
    if OWNER_PARAM in st.query_params:  # an old-style link: the token in it grants nothing
        del st.query_params[OWNER_PARAM]
    if not st.session_state.get("_owner_cookie_known"):
        with st.sidebar:  # stores the secret in this browser (sent again on every reload)
            st.html(_set_cookie_js(tok), unsafe_allow_javascript=True, width="content")
    return tok


_CHROME_CSS = """<style>
/* Streamlit's own running indicator (with a second "Stop") would flicker at the top right on every
   poll of the live panels: keep it in the page (tests wait on it) but invisible and unclickable. */
[data-testid="stStatusWidget"] { opacity: 0; pointer-events: none; }
</style>"""


def page_chrome() -> None:
    """Page-wide CSS: no flickering run indicator while the pages poll."""
    st.html(_CHROME_CSS)


admin_token_configured = views.admin_token_configured


def is_admin() -> bool:
    """Whether this session has given the admin token (``$GAN_STUDIO_ADMIN_TOKEN``)."""
    return bool(st.session_state.get(_ADMIN_KEY)) and admin_token_configured()


def admin_login() -> None:
    """A sidebar box for the teacher's admin token (only when ``$GAN_STUDIO_ADMIN_TOKEN`` is set): the
    admin may stop any run and delete any uploaded checkpoint. Kept for this browser session only."""
    if not admin_token_configured():
        return
    with st.sidebar:
        if is_admin():
            st.caption(":material/shield_person: Admin: you can stop any run and delete any upload.")
            if st.button("Leave admin mode", key="admin_logout"):
                st.session_state[_ADMIN_KEY] = False
                st.rerun()
            return
        with st.expander("Admin", icon=":material/shield_person:"):
            tok = st.text_input("Admin token", type="password", key="admin_token_input")
            if st.button("Sign in", key="admin_login"):
                if views.check_admin_token(tok):
                    st.session_state[_ADMIN_KEY] = True
                    st.session_state.pop("admin_token_input", None)
                    st.rerun()
                else:
                    st.error("Wrong admin token.")


# ---- quality metrics ------------------------------------------------------------------------------
def install_metrics() -> int:
    """Attach gan_core.metrics' evaluator to the process-wide job manager (once; idempotent). Returns the
    evaluation interval in steps, or 0 when metrics are turned off (``GAN_STUDIO_METRICS=0``)."""
    return views.install_metrics()


# ---- generators -----------------------------------------------------------------------------------
def load_generator_cached(path: Path):
    """(G, cfg, spec) for a checkpoint, cached per (path, mtime, size) for both front ends."""
    with st.spinner("Loading generator..."):
        return views.load_generator_cached(path)


DEFAULT_GENERATOR = views.DEFAULT_GENERATOR
FAVICON = Path(__file__).resolve().parents[1] / "favicon.png"   # apps/favicon.png (both fronts)


def generator_page(title: str):
    """Top of a page that works on one generator: navigation, title and the checkpoint picker.

    Returns (entry, G, cfg, spec, tag groups, file stem for downloads); stops the page when there is
    no usable checkpoint (the picker has said why)."""
    page_start()
    st.title(title)
    picked = checkpoint_picker()
    if picked is None:
        st.stop()
    entry, G, cfg, spec = picked
    stem = entry.path.stem if entry.source == "checkpoints" else entry.run
    return entry, G, cfg, spec, studio.label_groups(cfg, spec), stem


def checkpoint_picker(label: str = "Generator checkpoint", key: str = "picked_checkpoint", translators: bool = False):
    """Pick a shipped/uploaded checkpoint or a trained run's last.pt; loads it (cached).

    Returns (entry, G, cfg, spec) or None (with a message shown) when there is nothing usable.
    The choice is shared between pages (persisted for the session). ``translators``: list the
    image-to-image (pix2pix) generators instead of those that draw from z.
    """
    entries = studio.list_generators(translators=translators)
    if not entries and translators:
        st.info(f"No pix2pix generator yet. Put one (e.g. `faces_pix2pix.safetensors`) in "
                f"`{studio.checkpoints_dir()}`, or train arch **pix2pix** on dataset **faces-edges** on the "
                "**Train** page.")
        return None
    if not entries:
        st.info(
            f"No checkpoints yet. Put `.pt` / `.safetensors` files in `{studio.checkpoints_dir()}` "
            "(or upload one on the **Checkpoints** page), or train a model on the **Train** page."
        )
        return None
    by_path = {str(e.path): e for e in entries}
    options = list(by_path)
    if st.session_state.get(key) not in by_path:
        st.session_state.pop(key, None)
    # first visit: the shipped faces generator (tags to play with) when it is there
    first = views.default_generator(entries)
    default = options.index(str(first.path)) if first is not None else 0
    choice = st.selectbox(label, options, index=default, key=key, format_func=lambda p: by_path[p].label,
                          persist_state="session",
                          help="Shipped/uploaded files come from the checkpoints folder; trained runs' "
                               "last.pt from the runs folder.")
    entry = by_path[choice]
    try:
        G, cfg, spec = load_generator_cached(entry.path)
    except (CheckpointError, OSError, ValueError) as e:
        st.error(f"Could not load {entry.name}: {e}")
        return None
    st.caption(views.generator_caption(cfg, spec))
    return entry, G, cfg, spec


def tag_selectors(groups: Sequence[tuple[str, Sequence[str]]], key: str, allow_random: bool = True,
                  default: Optional[Sequence[Optional[int]]] = None) -> list[Optional[int]]:
    """One selectbox per tag group (e.g. hair, eye); returns class indices (None = random per sample)."""
    out: list[Optional[int]] = []
    cols = st.columns(max(1, len(groups)))
    for i, ((name, classes), col) in enumerate(zip(groups, cols)):
        opts: list[Optional[int]] = ([None] if allow_random else []) + list(range(len(classes)))
        d = default[i] if default is not None and i < len(default) else (0 if not allow_random else None)
        idx = opts.index(d) if d in opts else 0
        with col:
            v = st.selectbox(
                f"{name.capitalize()} tag", opts, index=idx, key=f"{key}.{name}",
                format_func=lambda c, cl=classes, n=name: f"{RANDOM} {n}" if c is None else cl[c],
                persist_state="session",
            )
        out.append(v)
    return out


# ---- pictures --------------------------------------------------------------------------------------
def show_image(img: np.ndarray, caption: Optional[str] = None, min_size: int = 256, width: Any = "content"):
    """A uint8 image upscaled with crisp pixels, as PNG."""
    st.image(studio.upscale(img, min_size=min_size), caption=caption, output_format="PNG", width=width)


def png_download(img: np.ndarray, file_name: str, label: str = "Download PNG", key: Optional[str] = None):
    st.download_button(label, studio.png_bytes(img), file_name=file_name, mime="image/png", key=key,
                       icon=":material/download:", on_click="ignore")


def seed_input(label: str, key: str, default: int = 0, help: Optional[str] = None) -> int:
    sp = arg_spec("seed")   # the seed range of gan_core.config.arguments (cut to what a browser's number box holds)
    return int(st.number_input(label, min_value=sp.lo, max_value=sp.hi, value=int(default), step=1, key=key,
                               help=help, persist_state="session"))
