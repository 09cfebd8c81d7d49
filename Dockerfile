# outreach: one image for web, worker and scheduler.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Exactly the versions and hashes of requirements.lock (scripts/lock.sh writes it).
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /venv \
    && /venv/bin/pip install --require-hashes --no-deps --only-binary=:all: \
       -r /tmp/requirements.lock

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/venv/bin:$PATH PYTHONPATH=/app OUTREACH_DATA_DIR=/data
COPY --from=build /venv /venv
WORKDIR /app
# The sources run from /app: app.py finds templates/ beside the outreach package.
COPY outreach ./outreach
COPY workers ./workers
COPY templates ./templates
COPY deploy/outreach /venv/bin/outreach
RUN useradd --system --uid 10001 outreach && mkdir -p /data && chown outreach /data \
    && chmod 0755 /venv/bin/outreach
USER outreach
EXPOSE 8000
CMD ["outreach", "serve", "--host", "0.0.0.0", "--port", "8000"]
