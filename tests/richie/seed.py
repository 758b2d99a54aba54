"""Create the course pages (and optionally course runs) the tests sync into.

Richie never creates course pages: a run can only be created under an existing page
whose *code* matches the course key's course part (richie/apps/courses/api.py,
`sync_course_run`). Run with `django-admin shell < seed.py`.

Input  ($RICHIE_SEED, JSON; default below):
  {"courses": [{"code": "DemoX", "runs": [{"resource_link": "...", "sync_mode": "sync_to_public",
                 "start": "...", "end": "...", "enrollment_start": "...", "enrollment_end": "...",
                 "languages": ["en"]}]}]}
Output ($RICHIE_DATA_DIR/seed.json):
  {"courses": [{"code": "DEMOX", "runs": [{"resource_link": "...", "draft_run_id": 1, "public_run_id": 2}]}]}
"""

import json
import os

from django.db import transaction
from django.utils.dateparse import parse_datetime

from richie.apps.core.helpers import create_i18n_page
from richie.apps.courses.models import Course, CourseRun
from richie.apps.courses.utils import normalize_code

DEFAULT_SEED = {
    "courses": [
        {
            "code": "DemoX",
            "runs": [
                {
                    "resource_link": "https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info",
                    "sync_mode": "sync_to_public",
                    "start": "2020-01-01T00:00:00Z",
                    "end": "2020-06-01T00:00:00Z",
                    "enrollment_start": "2019-12-01T00:00:00Z",
                    "enrollment_end": "2020-01-15T00:00:00Z",
                    "languages": ["en"],
                }
            ],
        },
        {"code": "E2E-101", "runs": []},
    ]
}

spec = json.loads(os.environ.get("RICHIE_SEED") or "null") or DEFAULT_SEED
report = {"courses": []}

def create_run(course, run):
    """A draft run, plus its public copy when the page is already published."""
    dates = {
        field: parse_datetime(run[field]) if run.get(field) else None
        for field in ("start", "end", "enrollment_start", "enrollment_end")
    }
    fields = {
        "resource_link": run["resource_link"],
        "sync_mode": run.get("sync_mode", "sync_to_public"),
        "languages": run.get("languages", ["en"]),
        **dates,
    }
    draft = CourseRun.objects.create(direct_course=course, **fields)
    if course.public_extension_id:
        CourseRun.objects.create(direct_course=course.public_extension, draft_course_run=draft, **fields)


with transaction.atomic():
    for entry in spec["courses"]:
        code = normalize_code(entry["code"])
        wanted = [r for r in entry.get("runs", []) if not CourseRun.objects.filter(resource_link=r["resource_link"]).exists()]
        course = Course.objects.filter(code=code, extended_object__publisher_is_draft=True).first()
        if course is None:
            page = create_i18n_page(
                {"en": f"Course {code}", "fr": f"Cours {code}"},
                template=Course.PAGE["template"],
                published=False,
            )
            course = Course.objects.create(extended_object=page, code=code)
            for run in wanted:
                create_run(course, run)
            # Publishing copies the draft runs to the public page (Course.copy_relations).
            for language in page.get_languages():
                page.publish(language)
            course.refresh_from_db()
        else:
            for run in wanted:
                create_run(course, run)
        runs = []
        for run in entry.get("runs", []):
            link = run["resource_link"]
            draft = CourseRun.objects.filter(resource_link=link, draft_course_run__isnull=True).first()
            public = CourseRun.objects.filter(resource_link=link, draft_course_run__isnull=False).first()
            runs.append(
                {
                    "resource_link": link,
                    "draft_run_id": draft and draft.id,
                    "public_run_id": public and public.id,
                }
            )
        report["courses"].append({"code": code, "page_published": bool(course.public_extension_id), "runs": runs})

path = os.path.join(os.environ.get("RICHIE_DATA_DIR", "."), "seed.json")
with open(path, "w", encoding="utf-8") as out:
    json.dump(report, out, indent=2)
print("SEED", json.dumps(report))
