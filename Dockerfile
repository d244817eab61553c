# The portal image: web (gunicorn), Celery worker and beat, and the migration Job all run from it.
# Build stage: the virtualenv with its installer; the final stage gets only the installed result.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# python-ldap (LDAP sign-in) has no wheels: it builds against the OpenLDAP and SASL headers.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libldap2-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /src/
RUN pip install -r /src/requirements.txt
COPY . /src
# The notify-filter Naemon runs (/opt/venv/bin/notify-filter): a launcher that starts Python without
# site, in place of pip's console script (preferences/launcher.py), importing from site-packages.
RUN pip install --no-deps /src && cd / && python -m preferences.launcher && pip uninstall -y pip setuptools

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    HOME=/app/var PORTAL_VAR_DIR=/app/var STATIC_ROOT=/app/static
# No installer in the image that runs: nothing can be added to a running container.
RUN python -m pip uninstall -y -q pip setuptools wheel
# The shared libraries python-ldap was built against.
RUN apt-get update && apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . .
# Static files are collected at build time (outside the writable /app/var) and served by whitenoise.
# OKD runs the container as an arbitrary UID in group 0: the one writable path belongs to group 0.
RUN DEBUG=true STATIC_MANIFEST=true python manage.py collectstatic --noinput -v0 \
    && mkdir -p /app/var && chown 1001:0 /app/var && chmod 0775 /app/var
# Numeric, so that Kubernetes can check runAsNonRoot without a passwd entry.
USER 1001
EXPOSE 8000
# No entrypoint script: the command is the process (gunicorn here; celery or manage.py migrate in
# the worker, beat and Job). The control socket would be written under $HOME; nobody uses it.
CMD ["gunicorn", "monitoring_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--worker-class", "gthread", "--threads", "8", "--timeout", "150", "--access-logfile", "-", "--no-control-socket"]
