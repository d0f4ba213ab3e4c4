"""The Streamlit front end: ``views/`` holds one script per page (routed by app.py's st.navigation over
``gan_core.studio.pages.PAGES``; the folder is not named ``pages/`` so Streamlit's legacy page discovery never
starts), the rest are its widgets and helpers."""
