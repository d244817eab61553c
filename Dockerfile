# The portal image: web (gunicorn), Celery worker and beat all run from it.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN pip install --no-deps . \
    && DEBUG=true STATIC_MANIFEST=true python manage.py collectstatic --noinput -v0 \
    && useradd --system --home /app portal && mkdir -p /app/var && chown portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "monitoring_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--timeout", "150", "--access-logfile", "-"]
