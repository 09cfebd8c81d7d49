# outreach: one image for web, worker and scheduler.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY outreach ./outreach
COPY workers ./workers
COPY templates ./templates
RUN pip install . && useradd --system --uid 10001 outreach && mkdir -p /data \
    && chown outreach /data
USER outreach
ENV OUTREACH_DATA_DIR=/data
EXPOSE 8000
CMD ["outreach", "serve", "--host", "0.0.0.0", "--port", "8000"]
