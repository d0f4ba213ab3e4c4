# GAN Studio as a Hugging Face Docker Space (or any Docker host): the Streamlit app on port 8501,
# running as user 1000. Build: docker build -t gan-studio .   Run: docker run -p 8501:8501 gan-studio
# The Gradio front end is in the same image: docker run -p 7860:7860 gan-studio python gradio_app.py
# (on a Docker Space: app_port 7860). Both servers in one container share the training slots.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Spaces run the container as uid 1000; give it a home and own the app folder (runs, caches, uploads).
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH \
    GAN_STUDIO_RUNS=/home/user/app/runs \
    GAN_STUDIO_CHECKPOINTS=/home/user/app/checkpoints \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false
WORKDIR /home/user/app

# torch/torchvision pinned, then the rest of requirements.txt. By default they come from the default
# index (CUDA-enabled wheels, large); for a CPU-only Space pass the PyTorch project's CPU wheel index:
# docker build --build-arg TORCH_INDEX=<that index URL> . Copying only requirements.txt first keeps this
# layer cached when the code changes.
ARG TORCH_INDEX=
RUN if [ -n "$TORCH_INDEX" ]; then \
        pip install --user --index-url "$TORCH_INDEX" torch==2.14.1 torchvision==0.29.1; \
    else \
        pip install --user torch==2.14.1 torchvision==0.29.1; \
    fi
COPY --chown=user:user requirements.txt .
RUN pip install --user -r requirements.txt

COPY --chown=user:user . .
RUN mkdir -p runs checkpoints .cache

EXPOSE 8501 7860
ENV GRADIO_SERVER_NAME=0.0.0.0
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"

# XSRF protection off: Spaces embed the app in an iframe, where Streamlit's XSRF cookie breaks uploads.
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true", \
     "--server.enableXsrfProtection=false", "--server.fileWatcherType=none"]
