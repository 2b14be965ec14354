# keyq: the HTTP app with its channels. Build: docker build -t keyq .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    KEYQ_DATABASE_URL=sqlite:////data/keyq.db \
    KEYQ_KEYS_FILE=/data/keyq.keys

RUN useradd --create-home --uid 10001 keyq && mkdir /data && chown keyq /data
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY bot ./bot
COPY channels ./channels
COPY survey ./survey
COPY storage ./storage
COPY guidance ./guidance
# Editable, so the Alembic scripts at the top of the tree stay where keyq looks for them.
RUN pip install -e .

USER keyq
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["keyq", "serve", "--host", "0.0.0.0", "--port", "8000"]
