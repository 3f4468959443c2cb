# Pitchin in a container: `docker build -t pitchin .` then
#   docker run --env-file .env -p 3000:3000 -v pitchin-data:/data pitchin
# The data (SQLite by default, the Maildir) lives in /data; set DATABASE_URL for PostgreSQL.
# docker-compose.yml runs the scaled-out setup (PostgreSQL, web, worker) from this image.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install . && rm -rf /src

# never root at run time; /data is the working directory, where pitchin.db, maildir/ and a .env are looked for
RUN useradd --create-home --uid 10001 pitchin && mkdir /data && chown pitchin:pitchin /data
USER pitchin
WORKDIR /data
VOLUME /data

# HOST=0.0.0.0: the default 127.0.0.1 would only answer inside the container
ENV HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_URL=sqlite:////data/pitchin.db
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
CMD ["pitchin", "serve"]
