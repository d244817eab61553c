"""Settings for the monitoring portal, read only from the environment.

Every variable is documented in docs/configuration.md and listed in .env.example.
With nothing set, the portal runs on SQLite under ``var/`` with Celery eager.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from monitoring_portal.env import get_bool, get_choice, get_int, get_list, get_str
from monitoring_portal.groupmap import GroupMap, parse
from monitoring_portal.roles import ROLES


def group_map_setting(name: str, text: str | None) -> GroupMap:
    """A group map (monitoring_portal/groupmap.py) from the environment; a bad entry stops the start.

    The caller reads the variable (``get_str("OIDC_GROUP_MAP")``) so that every variable the
    settings read is named in one call (tests/deploy checks them against the docs)."""
    try:
        return parse(text or "", roles=ROLES, name=name)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(get_str("PORTAL_VAR_DIR") or BASE_DIR / "var")

DEBUG = get_bool("DEBUG", False)

SECRET_KEY = get_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE); "
            "only DEBUG=true runs with a development key."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = get_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = get_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # naturaltime ("3 minutes ago") and intcomma, localised like the rest of the page.
    "django.contrib.humanize",
    "django_prometheus",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # The audit trail's one LogEntry table (monitoring_portal/audit.py registers the models).
    "auditlog",
    "monitoring_portal",
    "registry",
    "livestatus",
    "preferences",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Early, so that every log line of the request (and the tasks it enqueues) carries its id.
    "monitoring_portal.tracing.RequestIdMiddleware",
    # PostgreSQL unreachable: a 503 with Retry-After that clients retry, not a 500.
    "monitoring_portal.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the profile's choice (cookie), else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Pages show times in the reader's profile time zone (the API keeps the site's).
    "preferences.middleware.ProfileTimezoneMiddleware",
    # Who and from where for the audit trail (the user is read when a change is saved).
    "monitoring_portal.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A POST/PUT/PATCH to the API without a body: 400 (DRF would read it as {}).
    "monitoring_portal.rest.RequireBodyMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "monitoring_portal.urls"
WSGI_APPLICATION = "monitoring_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "monitoring_portal" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "livestatus.context_processors.status_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        get_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        conn_max_age=get_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# --- Sign-in beside local passwords: OpenID Connect and LDAP (docs/authentication.md) ---
# Local passwords can be switched off once SSO works (keep a break-glass plan: docs).
LOCAL_LOGIN = get_bool("LOCAL_LOGIN", True)
if not LOCAL_LOGIN:
    AUTHENTICATION_BACKENDS.remove("django.contrib.auth.backends.ModelBackend")
# mozilla-django-oidc's names; the endpoints come from the issuer's discovery document.
OIDC_OP_ISSUER = get_str("OIDC_ISSUER", "") or ""
OIDC_RP_CLIENT_ID = get_str("OIDC_CLIENT_ID", "") or ""
OIDC_RP_CLIENT_SECRET = get_str("OIDC_CLIENT_SECRET", "") or ""
OIDC_RP_SCOPES = get_str("OIDC_SCOPES", "openid email profile") or "openid"
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the IdP logout
OIDC_USERNAME_CLAIM = get_str("OIDC_USERNAME_CLAIM", "preferred_username") or "preferred_username"
OIDC_GROUPS_CLAIM = get_str("OIDC_GROUPS_CLAIM", "groups") or "groups"
OIDC_GROUP_MAP = group_map_setting("OIDC_GROUP_MAP", get_str("OIDC_GROUP_MAP", ""))
OIDC_AUTHENTICATE_CLASS = "monitoring_portal.oidc.PortalOIDCAuthenticationRequestView"
OIDC_OP_LOGOUT_URL_METHOD = "monitoring_portal.oidc.end_session_url"
LOGIN_REDIRECT_URL_FAILURE = "login"
if OIDC_OP_ISSUER:
    if not OIDC_RP_CLIENT_ID:
        raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID too.")
    AUTHENTICATION_BACKENDS.append("monitoring_portal.oidc.PortalOIDCBackend")
LDAP_SERVER_URI = get_str("LDAP_SERVER_URI", "") or ""
LDAP_START_TLS = get_bool("LDAP_START_TLS", False)
LDAP_TIMEOUT_SECONDS = get_int("LDAP_TIMEOUT_SECONDS", 10, minimum=1)
LDAP_BIND_DN = get_str("LDAP_BIND_DN", "") or ""
LDAP_BIND_PASSWORD = get_str("LDAP_BIND_PASSWORD", "") or ""
LDAP_USER_BASE = get_str("LDAP_USER_BASE", "") or ""
LDAP_USER_FILTER = get_str("LDAP_USER_FILTER", "(uid=%(user)s)") or "(uid=%(user)s)"
LDAP_GROUP_BASE = get_str("LDAP_GROUP_BASE", "") or ""
LDAP_GROUP_TYPE = get_choice("LDAP_GROUP_TYPE", "groupOfNames", ("posixGroup", "groupOfNames"))
LDAP_GROUP_MAP = group_map_setting("LDAP_GROUP_MAP", get_str("LDAP_GROUP_MAP", ""))
if LDAP_SERVER_URI:
    if not (LDAP_USER_BASE and LDAP_GROUP_BASE):
        raise ImproperlyConfigured("LDAP_SERVER_URI is set: set LDAP_USER_BASE and LDAP_GROUP_BASE too.")
    AUTHENTICATION_BACKENDS.append("monitoring_portal.ldap_auth.PortalLDAPBackend")
if len(AUTHENTICATION_BACKENDS) == 1:
    raise ImproperlyConfigured(
        "LOCAL_LOGIN=false needs OIDC_ISSUER or LDAP_SERVER_URI: nobody could sign in."
    )
# Login throttling (the login page and the admin's; the API takes tokens, not passwords):
# after LOGIN_FAILURE_LIMIT wrong passwords for one user name from one address, that pair is
# refused, even with the right password, for LOGIN_COOLOFF_MINUTES (0: until an admin runs
# `manage.py axes_reset_username NAME`). A success resets the count.
AXES_FAILURE_LIMIT = get_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
_LOGIN_COOLOFF_MINUTES = get_int("LOGIN_COOLOFF_MINUTES", 15, minimum=0)
AXES_COOLOFF_TIME = timedelta(minutes=_LOGIN_COOLOFF_MINUTES) if _LOGIN_COOLOFF_MINUTES else None
# User name and address together: one address cannot lock a user out everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = get_str("TIME_ZONE") or "UTC"
USE_I18N = True
LANGUAGES = [("en", "English"), ("fr", "Français")]
# Compiled by `manage.py compilemessages` (the test command and `make run` do it).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(get_str("STATIC_ROOT") or VAR_DIR / "static")
# Hashed, compressed files from `collectstatic` in production; straight from the apps otherwise.
STATIC_MANIFEST = get_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if not STATIC_MANIFEST
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# --- Security (production defaults; `check --deploy` passes with DEBUG=false) ---
SECURE_SSL_REDIRECT = get_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if get_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_HSTS_SECONDS = get_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = False
SESSION_COOKIE_SECURE = get_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = get_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# --- REST API ---
# Pages never hold more rows than this (`?limit=` above it is a 400).
API_MAX_PAGE_SIZE = get_int("API_MAX_PAGE_SIZE", 1000, minimum=1)
# Requests that hold a web worker while waiting for deployments (`?wait=`): keep the total
# below the number of web workers, so waiting clients can never take all of them.
API_WAIT_MAX_TOTAL = get_int("API_WAIT_MAX_TOTAL", 16, minimum=0)
API_WAIT_MAX_PER_USER = get_int("API_WAIT_MAX_PER_USER", 4, minimum=0)
# Anonymous access to /api/schema/ and its Swagger UI (off: a token or a login is needed).
API_DOCS_PUBLIC = get_bool("API_DOCS_PUBLIC", False)
# /metrics: Prometheus sends `Authorization: Bearer <METRICS_TOKEN>`; staff sessions may look too.
METRICS_TOKEN = get_str("METRICS_TOKEN") or ""
METRICS_PUBLIC = get_bool("METRICS_PUBLIC", False)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "monitoring_portal.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["monitoring_portal.rest.StrictFilterBackend"],
    # JSON only, as the schema documents: a form or multipart body is a 415.
    "DEFAULT_PARSER_CLASSES": ["monitoring_portal.rest.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "monitoring_portal.rest.LimitOffsetPagination",
    "PAGE_SIZE": get_int("API_PAGE_SIZE", 100, minimum=1),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Monitoring portal API",
    "DESCRIPTION": "Registry, deployments, Livestatus and notification preferences for Naemon.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # notify/suppress is a rule's action, a profile's default and a decision: one enum, one name.
    "ENUM_NAME_OVERRIDES": {"NotifyOrSuppressEnum": "preferences.models.Action"},
    # The error answers of every operation (400/401/403/404/405/429), documented once.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "monitoring_portal.schema.add_error_responses",
    ],
}

# --- Celery: absent broker means tasks run inline (eager) ---
CELERY_BROKER_URL = get_str("CELERY_BROKER_URL") or ""
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = get_str("CELERY_RESULT_BACKEND") or (CELERY_BROKER_URL or None)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# --- Control-room wall (livestatus/overview.py, overview_store.py, tops.py, wall_kiosk.py) ---
# Seconds a node that did not answer (connect error, timeout) is not asked again: pages answer at
# once instead of waiting for it on every refresh (livestatus/nodes.py; shared through Redis).
LIVESTATUS_UNREACHABLE_SECONDS = get_int("LIVESTATUS_UNREACHABLE_SECONDS", 10, minimum=0)
WALL_REFRESH_SECONDS = get_int("WALL_REFRESH_SECONDS", 5)
WALL_STALE_SECONDS = get_int("WALL_STALE_SECONDS", 30)
WALL_TOPS_SECONDS = get_int("WALL_TOPS_SECONDS", 60)
WALL_KIOSK_SALT = get_str("WALL_KIOSK_SALT") or "v1"
WALL_KIOSK_REVOKED = get_list("WALL_KIOSK_REVOKED", [])
# The site's Grafana dashboard of an object: {host} and {service} are replaced, URL-quoted.
GRAFANA_URL = get_str("GRAFANA_URL") or ""
# --- Cluster watch (registry/failover.py): hysteresis, so that a node's share does not flap ---
CLUSTER_WATCH_SECONDS = get_int("CLUSTER_WATCH_SECONDS", 10, minimum=1)
CLUSTER_DOWN_AFTER = get_int("CLUSTER_DOWN_AFTER", 60, minimum=0)
CLUSTER_BACK_AFTER = get_int("CLUSTER_BACK_AFTER", 60, minimum=0)
# A deployment pending this long with no run is sent to its node's worker again (its message was
# lost: broker away at commit, Redis restarted); checked by the cluster watch (registry/tasks.py).
DEPLOY_RESEND_AFTER = get_int("DEPLOY_RESEND_AFTER", 60, minimum=1)
# A node's deploy runs start at least this many seconds after its previous run ended: a burst of
# writes gathers into a few reloads (registry/deploy.py _pace). 0: start at once.
DEPLOY_MIN_INTERVAL = get_int("DEPLOY_MIN_INTERVAL", 5, minimum=0)
# How often every node's worker compares what it runs with its last confirmed deployment (registry/drift.py).
DRIFT_CHECK_SECONDS = get_int("DRIFT_CHECK_SECONDS", 60, minimum=5)

# How long the notify-filter's decisions are kept in the database (the notification history).
NOTIFICATION_HISTORY_DAYS = get_int("NOTIFICATION_HISTORY_DAYS", 90, minimum=1)

# Audit rows (who changed what) older than this many days are pruned daily.
AUDIT_RETENTION_DAYS = get_int("AUDIT_RETENTION_DAYS", 400, minimum=1)
# Diffs as JSON values, not their str(): the history API returns them as they were.
AUDITLOG_STORE_JSON_CHANGES = True

# Periodic tasks, each with `expires` so a backlog does not run stale copies.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # The heartbeat of every node's preferences snapshot, through each node's own queue: the
    # notify-filter sends everything (fail open) once its snapshot is older than an hour.
    "preferences-refresh-snapshots": {
        "task": "preferences.tasks.refresh_snapshots",
        "schedule": float(get_int("SNAPSHOT_REFRESH_SECONDS", 300)),
        "options": {"expires": 240},
    },
    # Coverage gaps per reason, for the wall and the portal_coverage_gap_objects gauge.
    "preferences-refresh-coverage": {
        "task": "preferences.tasks.refresh_coverage",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Decisions older than NOTIFICATION_HISTORY_DAYS leave the notification history.
    "preferences-purge-notification-history": {
        "task": "preferences.tasks.purge_notification_history",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    "monitoring-portal-prune-audit": {
        "task": "monitoring_portal.tasks.prune_audit",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    # Short-lived hosts whose lease ended are removed, and the removal deploys.
    "registry-retire-expired-hosts": {
        "task": "registry.tasks.retire_expired_hosts",
        "schedule": float(get_int("LEASE_CHECK_SECONDS", 30)),
        "options": {"expires": 25},
    },
    # Directory changes reach the portal without a login: a user taken out of a group loses the team.
    **(
        {
            "monitoring-portal-sync-ldap-users": {
                "task": "monitoring_portal.tasks.sync_ldap_users",
                "schedule": float(get_int("LDAP_SYNC_SECONDS", 900, minimum=60)),
                "options": {"expires": 600},
            }
        }
        if LDAP_SERVER_URI
        else {}
    ),
    # Is every node answering? A node down for CLUSTER_DOWN_AFTER hands its share over.
    "registry-watch-nodes": {
        "task": "registry.tasks.watch_nodes",
        "schedule": float(CLUSTER_WATCH_SECONDS),
        "options": {"expires": float(CLUSTER_WATCH_SECONDS)},
    },
    # A hand edit on a node, a core started on an older config, a deployment that gave up.
    "registry-check-drift": {
        "task": "registry.tasks.check_drift",
        "schedule": float(DRIFT_CHECK_SECONDS),
        "options": {"expires": float(DRIFT_CHECK_SECONDS)},
    },
    # One query round per node every few seconds, however many screens watch.
    "livestatus-refresh-status-snapshot": {
        "task": "livestatus.tasks.refresh_status_snapshot",
        "schedule": float(WALL_REFRESH_SECONDS),
        "options": {"expires": float(WALL_REFRESH_SECONDS)},
    },
    # Action copies a node did not take (it was down) are sent again once it answers, until
    # PENDING_ACTION_MAX_AGE_SECONDS (default a day): then they are recorded as given up.
    "livestatus-retry-pending-actions": {
        "task": "livestatus.tasks.retry_pending_actions",
        "schedule": 30.0,
        "kwargs": {"max_age": get_int("PENDING_ACTION_MAX_AGE_SECONDS", 86400, minimum=60)},
        "options": {"expires": 25},
    },
}

REDIS_URL = get_str("REDIS_URL") or (CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")

# --- Logging: LOG_FORMAT=json gives one JSON object per line (EFK) ---
LOG_FORMAT = get_choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = get_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    # request_id, task_id, deployment_id on every record (fields of the JSON lines).
    "filters": {"context": {"()": "monitoring_portal.tracing.ContextFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Portal ---
# The demo users' password. Only the local demo (DEBUG, `make run`) has a default: elsewhere
# `load_demo --force` refuses to run without it.
PORTAL_DEMO_PASSWORD = get_str("PORTAL_DEMO_PASSWORD") or ("demo-portal-2026" if DEBUG else "")
# The channels a portal user in a team gets by default: their contact is given every
# notification command of these channels (registry/signals.py, docs/notifications.md).
PORTAL_USER_CHANNELS = get_list("PORTAL_USER_CHANNELS", ["email"])
