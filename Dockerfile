# outreach: one image for web, worker and scheduler.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Exactly the versions and hashes of requirements.lock (scripts/lock.sh writes it), wheels
# only, into a venv without pip; the build stops if anything else ended up in it.
COPY requirements.lock scripts/lockcheck.py /tmp/
RUN python -m venv --without-pip /venv \
    && python -m pip --python /venv/bin/python install --require-hashes --no-deps \
       --only-binary=:all: -r /tmp/requirements.lock \
    && /venv/bin/python /tmp/lockcheck.py installed --lock /tmp/requirements.lock

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
