"""GAN Studio: ``streamlit run app.py``. The entry point only sets the page config, keeps the owner
secret in a cookie and routes to the pages in pages/ (st.navigation)."""
from __future__ import annotations

import streamlit as st

from ui.common import FAVICON, owner_token, page_chrome

# a local favicon: a Material icon would be fetched from a font host, which fails offline. Its path comes
# from an imported module: app.py's own __file__ is not defined on every rerun of the main script.
st.set_page_config(page_title="GAN Studio", page_icon=str(FAVICON), layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/grid_view:"),
    st.Page("pages/interpolate.py", title="Interpolate", icon=":material/animation:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/lab2d.py", title="2D lab", icon=":material/scatter_plot:", url_path="lab2d"),
    st.Page("pages/style.py", title="Style", icon=":material/brush:", url_path="style"),
    st.Page("pages/sketch.py", title="Sketch", icon=":material/draw:", url_path="sketch"),
    st.Page("pages/checkpoints.py", title="Checkpoints", icon=":material/folder_open:"),
]

page = st.navigation(PAGES)
owner_token()  # before the page runs: this browser's owner secret (a cookie, never in the URL)
page_chrome()  # no flickering run indicator while the pages poll
page.run()
