"""Django settings for the Richie (PyPI `richie`) that the course-sync tests post to.

Only what the course-runs-sync endpoint and the django-cms pages behind it need:

* SQLite (``RICHIE_DB_PATH``), local-memory caches (no Redis). The sync view clears
  ``caches["search"]``, so that alias must exist.
* No Elasticsearch: ``RICHIE_KEEP_SEARCH_UPDATED = False`` disconnects the search
  signal handlers (richie/apps/search/signals.py); the ES client object is built at
  start-up but never used.
* One Open edX LMS backend (richie/apps/courses/lms/edx.py). Its COURSE_REGEX accepts
  ``.../courses/<key>/info`` (richie-openedx-sync's and our default link) and
  ``.../courses/<key>/course/`` (Richie's own default).

Knobs (environment): RICHIE_SYNC_SECRETS (comma-separated), RICHIE_COURSE_REGEX,
RICHIE_DEFAULT_SYNC_MODE, RICHIE_NO_UPDATE_FIELDS, RICHIE_DEBUG=1.
"""

import os

from django.utils.translation import gettext_lazy as _

# CMS templates, placeholders and plugin settings of Richie's courses app.
from richie.apps.courses.settings import *  # noqa: F401,F403  pylint: disable=wildcard-import


def _env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = os.environ.get("RICHIE_DATA_DIR", os.getcwd())
DEBUG = os.environ.get("RICHIE_DEBUG") == "1"
SECRET_KEY = "edx-hooks-tests-only-not-a-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "edx_hooks_richie_urls"
SITE_ID = 1
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SILENCED_SYSTEM_CHECKS = ["security.W019"]
X_FRAME_OPTIONS = "SAMEORIGIN"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("RICHIE_DB_PATH", os.path.join(DATA_DIR, "db.sqlite3")),
        # runserver handles requests in threads; SQLite lets one writer in at a time.
        "OPTIONS": {"timeout": 30},
    }
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "search": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "search"},
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(DATA_DIR, "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = os.path.join(DATA_DIR, "media")

# Same API versioning as Richie's sandbox (sandbox/settings.py): /api/v1.0/...
REST_FRAMEWORK = {
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.URLPathVersioning",
    "DEFAULT_VERSION": "1.0",
    "ALLOWED_VERSIONS": ("1.0",),
    "DEFAULT_AUTHENTICATION_CLASSES": ("rest_framework.authentication.SessionAuthentication",),
}

# ---- course runs synchronization (docs/synchronizing-course-runs.md) ----------
RICHIE_COURSE_RUN_SYNC_SECRETS = _env_list("RICHIE_SYNC_SECRETS", "local-richie-secret")
RICHIE_LMS_BACKENDS = [
    {
        "BACKEND": "richie.apps.courses.lms.edx.EdXLMSBackend",
        "BASE_URL": "http://localhost:8000",
        "COURSE_REGEX": os.environ.get(
            "RICHIE_COURSE_REGEX", r"^.*/courses/(?P<course_id>.*)/(?:info|course)/?$"
        ),
        "JS_BACKEND": "dummy",
        "JS_COURSE_REGEX": r"^.*/courses/(.*)/(?:info|course)/?$",
        "DEFAULT_COURSE_RUN_SYNC_MODE": os.environ.get("RICHIE_DEFAULT_SYNC_MODE", "sync_to_public"),
        "COURSE_RUN_SYNC_NO_UPDATE_FIELDS": _env_list("RICHIE_NO_UPDATE_FIELDS"),
    }
]

# ---- search: never contacted ---------------------------------------------------
RICHIE_KEEP_SEARCH_UPDATED = False
RICHIE_ES_HOST = ["127.0.0.1:9"]
RICHIE_ES_CLIENT_KWARGS = {"timeout": 1, "max_retries": 0}
RICHIE_ES_INDICES_PREFIX = "edx-hooks-tests"

# ---- languages -----------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LANGUAGES = (("en", _("English")), ("fr", _("French")))
_CMS_LANGUAGE = {"public": True, "hide_untranslated": False, "redirect_on_fallback": False}
CMS_LANGUAGES = {
    "default": {**_CMS_LANGUAGE, "fallbacks": ["en", "fr"]},
    SITE_ID: [
        {**_CMS_LANGUAGE, "code": "en", "name": _("English"), "fallbacks": ["fr"]},
        {**_CMS_LANGUAGE, "code": "fr", "name": _("French"), "fallbacks": ["en"]},
    ],
}
PARLER_LANGUAGES = CMS_LANGUAGES
CMS_PERMISSION = True
FILER_ENABLE_PERMISSIONS = True
FILER_IS_PUBLIC_DEFAULT = True

# ---- applications ----------------------------------------------------------------
INSTALLED_APPS = [
    # Richie
    "richie.apps.search",
    "richie.apps.courses",
    "richie.apps.core",
    "richie.plugins.glimpse",
    "richie.plugins.html_sitemap",
    "richie.plugins.large_banner",
    "richie.plugins.lti_consumer",
    "richie.plugins.nesteditem",
    "richie.plugins.plain_text",
    "richie.plugins.section",
    "richie.plugins.simple_picture",
    "richie.plugins.simple_text_ckeditor",
    "richie.plugins.slider",
    "richie",
    # django-cms and the third-party apps Richie's models depend on
    "cms",
    "menus",
    "treebeard",
    "sekizai",
    "djangocms_admin_style",
    "djangocms_googlemap",
    "djangocms_link",
    "djangocms_picture",
    "djangocms_text_ckeditor",
    "djangocms_video",
    "filer",
    "easy_thumbnails",
    "parler",
    "dal",
    "dal_select2",
    "dj_pagination",
    "rest_framework",
    # Django
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.humanize",
    "django.contrib.messages",
    "django.contrib.sessions",
    "django.contrib.sitemaps",
    "django.contrib.sites",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "cms.middleware.utils.ApphookReloadMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cms.middleware.user.CurrentUserMiddleware",
    "cms.middleware.page.CurrentPageMiddleware",
    "cms.middleware.toolbar.ToolbarMiddleware",
    "cms.middleware.language.LanguageCookieMiddleware",
    "dj_pagination.middleware.PaginationMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csrf",
                "django.template.context_processors.debug",
                "django.template.context_processors.i18n",
                "django.template.context_processors.media",
                "django.template.context_processors.request",
                "django.template.context_processors.static",
                "django.template.context_processors.tz",
                "sekizai.context_processors.sekizai",
                "cms.context_processors.cms_settings",
                "richie.apps.core.context_processors.site_metas",
            ],
        },
    }
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "richie": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
