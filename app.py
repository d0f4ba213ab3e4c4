"""GAN Studio: ``streamlit run app.py``. The entry point only sets the page config, keeps the owner
token in the URL and routes to the pages in pages/ (st.navigation)."""
from __future__ import annotations

import streamlit as st

from ui.common import owner_token

st.set_page_config(page_title="GAN Studio", page_icon=":material/palette:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/grid_view:"),
    st.Page("pages/interpolate.py", title="Interpolate", icon=":material/animation:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/checkpoints.py", title="Checkpoints", icon=":material/folder_open:"),
]

page = st.navigation(PAGES)
owner_token()  # before the page runs, so every page (and a reload) keeps ?owner= in the URL
page.run()
