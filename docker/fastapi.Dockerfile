# syntax=docker/dockerfile:1
# The reference FastAPI recommendation service (examples/fastapi-service), for docker/compose.yaml.
# Build from the repository root:  docker build -f docker/fastapi.Dockerfile .
FROM python:3.12-slim

RUN python -m pip install --no-cache-dir --disable-pip-version-check "fastapi>=0.110,<1" "uvicorn>=0.29,<1" \
    && useradd --system --uid 10002 --home-dir /app --shell /usr/sbin/nologin fastapi
WORKDIR /app
COPY examples/fastapi-service/app.py ./app.py
USER fastapi
EXPOSE 8010

HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8010/health', timeout=4)"]

CMD ["python", "-m", "uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8010"]
