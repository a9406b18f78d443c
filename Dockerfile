# DSM server image: `docker build -t dsm .` then
# `docker run -p 8000:8000 -e DSM_DATABASE_URL=postgresql+psycopg://... -e DSM_SECRET_KEY=... dsm`
# Without DSM_DATABASE_URL it keeps a SQLite database in /data (mount a volume there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DSM_HOST=0.0.0.0 DSM_PORT=8000 DSM_DATABASE_URL=sqlite:////data/dsm.db

RUN useradd --create-home --uid 10001 dsm && mkdir /data && chown dsm /data
WORKDIR /opt/dsm
COPY pyproject.toml README.md ./
COPY app ./app
COPY migrations ./migrations
COPY dsd ./dsd
COPY codelists ./codelists
RUN pip install -e .

USER dsm
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"DSM_PORT\"]}/health/ready', timeout=4)"
CMD ["dsm", "serve"]
