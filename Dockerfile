FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY workers workers
COPY domain domain
COPY migrations migrations
RUN pip install --no-cache-dir . && useradd --create-home billing \
    && mkdir -p /run/billing-metrics && chown billing /run/billing-metrics
USER billing
EXPOSE 8000
CMD ["billing", "serve", "--host", "0.0.0.0", "--port", "8000"]
