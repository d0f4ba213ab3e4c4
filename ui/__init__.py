"""Streamlit helpers shared by the GAN Studio pages (the logic itself lives in gan_core.studio)."""
