# One image for the api and the worker (compose.yaml picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 CALLSCOPE_DATA_DIR=/var/lib/callscope \
    OMP_WAIT_POLICY=PASSIVE
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callscope ./callscope
COPY api ./api
COPY worker ./worker
COPY cli ./cli
COPY models ./models
COPY samples ./samples
COPY kb ./kb
# torch (speaker separation on mono calls) from the CPU wheel index: PyPI's default build carries CUDA (several GB);
# a GPU image for the transcribe-gpu pool would take the CUDA build instead.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install --no-cache-dir -e . && useradd --system --home /var/lib/callscope callscope \
    && mkdir -p /var/lib/callscope && chown callscope /var/lib/callscope
USER callscope
EXPOSE 8000
CMD ["callscope", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
