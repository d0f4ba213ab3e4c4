"""GAN Studio's two front ends: ``apps.streamlit`` (``streamlit run app.py``) and ``apps.gradio``
(``python gradio_app.py``), plus what both draw with (``apps.charts``: plotly figures). They only render:
everything they show is computed in ``gan_core.studio``."""
