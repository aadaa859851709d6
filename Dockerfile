# GPT Playground: a small CPU image (CPU build of torch, no CUDA) for a school server or a Docker Space.
FROM python:3.11-slim

# a CJK font so Chinese labels render in exported figures; curl for the health check (no compiler:
# the app runs on torch alone)
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei curl \
 && rm -rf /var/lib/apt/lists/*

# Spaces convention: run as uid 1000
RUN useradd -m -u 1000 user
WORKDIR /home/user/app

COPY requirements.txt .
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY --chown=user app.py ./
COPY --chown=user playground ./playground
COPY --chown=user assets ./assets

USER user
ENV GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False \
    PYTHONUNBUFFERED=1
EXPOSE 7860
# Gradio's smallest answer (the page itself is ~500 KB); HAProxy (deploy/) checks the same path
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS http://127.0.0.1:7860/gradio_api/app_id || exit 1
CMD ["python", "app.py"]
