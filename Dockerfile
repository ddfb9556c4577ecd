# Production image: gunicorn serving booking, configured by environment.
#
# gunicorn runs sync workers, which must sit behind a buffering reverse proxy:
# a client sending its headers slowly holds a sync worker for as long as it
# likes. Do not publish this container's port to the world; run it as
# compose.yaml does, behind nginx (deploy/nginx/booking.conf), with
# TRUSTED_PROXIES=1.
#
#   docker compose up -d            # the whole recipe: db, schema, app, worker, nginx
#   docker build -t booking .
#   docker run --rm -e DATABASE_URL=postgresql://... booking flask --app booking db upgrade
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql://... -e SECRET_KEY=... booking
#   docker run -e DATABASE_URL=postgresql://... -e SMTP_URL=... booking flask --app booking worker
#     (the delivery worker: mail and webhooks; stops cleanly on SIGTERM)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BIND=0.0.0.0:8000 \
    VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY booking booking
# The German and French catalogues, compiled here (.mo files are not in git).
RUN pybabel compile -d booking/translations
COPY templates templates
COPY static static
COPY sql sql
COPY wsgi.py gunicorn.conf.py ./

RUN useradd --system --uid 10001 --home-dir /app booking \
 && mkdir -p /app/var && chown booking /app/var
USER booking

EXPOSE 8000
# Liveness only (/healthz does not touch the database): an outage of the
# database must not get the container restarted. Orchestrators probe /readyz
# for readiness.
HEALTHCHECK --interval=30s --timeout=5s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
