"""The Train page's preview of a Hugging Face dataset: 16 images with their tags, the columns and the
tag groups, before a run starts (the core is :func:`gan_core.data.hf.preview`)."""
from __future__ import annotations

from typing import Optional

import streamlit as st

from gan_core import studio
from gan_core.data import DataError
from gan_core.data.hf import HFPreview, preview

PREVIEW_IMAGES = 16


def _settings(path: str, split: str, image_column: str, label_columns: str) -> tuple[str, str, str, str]:
    return (str(path or "").strip(), str(split or "train").strip(), str(image_column or "").strip(),
            ",".join(c.strip() for c in str(label_columns or "").split(",") if c.strip()))


def hf_preview_panel(path: Optional[str], split: str = "train", image_column: str = "", label_columns: str = "",
                     key: str = "hf_preview", cache_dir: str = ".cache/gan_studio") -> Optional[HFPreview]:
    """A "Preview dataset" button; once pressed, shows the preview for these settings (or the one error
    line) until a setting changes. Returns the preview shown, or None."""
    settings = _settings(path, split, image_column, label_columns)
    if not settings[0]:
        st.caption("Give a Hugging Face dataset name such as `huggan/anime-faces`, or a local saved copy "
                   "(a `save_to_disk` folder or a parquet file), then preview it.")
        return None
    if st.button("Preview dataset", key=f"{key}.button", icon=":material/preview:",
                 help=f"Read the first {PREVIEW_IMAGES} images and the columns (downloads a little from the Hub)"):
        with st.spinner(f"Reading the first images of {settings[0]} ..."):
            try:
                result: object = preview(*settings, n=PREVIEW_IMAGES, image_size=64, cache_dir=cache_dir)
            except DataError as e:
                result = str(e)
        st.session_state[key] = (settings, result)
    stored = st.session_state.get(key)
    if not stored or stored[0] != settings:
        return None
    result = stored[1]
    if isinstance(result, str):
        st.error(result, icon=":material/error:")
        return None
    render_hf_preview(result)
    return result


def render_hf_preview(p: HFPreview) -> None:
    """Images with their tags, the split size, the columns and the tag groups of a preview."""
    v = studio.hf_preview_view(p)
    st.markdown(v["header"])
    st.image(v["images"], caption=[c or None for c in v["captions"]] if any(v["captions"]) else None,
             width=96, output_format="PNG")
    st.dataframe(v["columns"], hide_index=True, width="stretch")
    for line in v["groups"]:
        st.markdown(line) if line.startswith("Tag group") else st.caption(line)
    for note in v["notes"]:
        st.caption(note)
