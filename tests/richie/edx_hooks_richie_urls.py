"""URLs of the test Richie.

* ``/api/v1.0/...``: Richie's courses API (course-runs-sync, course-runs/<id>/), under the
  same versioned prefix as Richie's sandbox/urls.py.
* ``/_edx_hooks/course-runs/?resource_link=...``: TEST-ONLY read-back of every course run
  (draft and public) with that exact link. Richie itself has no lookup by link, and the
  tests need one to check runs the forwarder created.
* django-cms pages and admin (the course pages the runs hang on).
"""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path

from richie.apps.courses.models import CourseRun
from richie.apps.courses.urls import urlpatterns as courses_api_urls


def runs_by_link(request):
    link = request.GET.get("resource_link", "")
    runs = CourseRun.objects.filter(resource_link=link).order_by("id")
    return JsonResponse(
        [
            {
                "id": run.id,
                "resource_link": run.resource_link,
                "is_draft": run.draft_course_run_id is None,
                "sync_mode": run.sync_mode,
                "course_code": run.direct_course.code,
                "start": run.start and run.start.isoformat(),
                "end": run.end and run.end.isoformat(),
                "enrollment_start": run.enrollment_start and run.enrollment_start.isoformat(),
                "enrollment_end": run.enrollment_end and run.enrollment_end.isoformat(),
                "languages": list(run.languages),
                "enrollment_count": run.enrollment_count,
                "catalog_visibility": run.catalog_visibility,
            }
            for run in runs
        ],
        safe=False,
    )


urlpatterns = [
    re_path(r"^api/v(?P<version>[0-9]+\.[0-9]+)/", include(courses_api_urls)),
    path("_edx_hooks/course-runs/", runs_by_link),
]
urlpatterns += i18n_patterns(
    path("admin/", admin.site.urls),
    path("", include("cms.urls")),
)
