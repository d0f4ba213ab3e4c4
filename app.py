"""GAN Studio: ``streamlit run app.py``. The entry point only sets the page config, keeps the owner
secret in a cookie and routes to the page scripts in apps/streamlit/views/ (st.navigation over
``gan_core.studio.pages``)."""
from __future__ import annotations

import streamlit as st

from apps.streamlit.common import FAVICON, owner_token, page_chrome
from gan_core.studio.pages import HOME, PAGES

# a local favicon: a Material icon would be fetched from a font host, which fails offline. Its path comes
# from an imported module: app.py's own __file__ is not defined on every rerun of the main script.
st.set_page_config(page_title="GAN Studio", page_icon=str(FAVICON), layout="wide")

page = st.navigation([st.Page(HOME.streamlit, title=HOME.title, icon=HOME.icon, default=True)]
                     + [st.Page(p.streamlit, title=p.title, icon=p.icon, url_path=p.key) for p in PAGES])
owner_token()  # before the page runs: this browser's owner secret (a cookie, never in the URL)
page_chrome()  # no flickering run indicator while the pages poll
page.run()
