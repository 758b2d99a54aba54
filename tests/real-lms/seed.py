"""Seed data of the conformance tier, run once per fresh schema by lms.sh:

    manage.py lms shell -c "exec(open('seed.py').read())"

Every course is a plain `CourseOverview` (+ image set) with its `CourseMode` rows: the
endpoints the functions call read nothing else (no modulestore content needed).
Names used by the Rust tests live in tests/src/real_lms.rs; keep the two in step.
"""
import datetime

from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from oauth2_provider.models import Application

from openedx.core.djangoapps.oauth_dispatch.models import RestrictedApplication
from opaque_keys.edx.keys import CourseKey

from common.djangoapps.course_modes.models import CourseMode
from common.djangoapps.student.models import CourseEnrollment, UserProfile
from common.djangoapps.util.models import RateLimitConfiguration
from openedx.core.djangoapps.content.course_overviews.models import CourseOverview, CourseOverviewImageSet

import os

UTC = datetime.timezone.utc
NOW = datetime.datetime.now(UTC).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
User = get_user_model()
PASSWORD = "edx-hooks-real-lms-pass"

port = os.environ.get("EDX_HOOKS_LMS_PORT", "18000")
Site.objects.update_or_create(id=1, defaults={"domain": f"127.0.0.1:{port}", "name": "edx-hooks"})

# A schema built from models has none of the data migrations' rows. Production has this
# one enabled (util/migrations/0002): without it every @can_disable_rate_limit view
# (enrollment, allowance, bulk enroll) runs unthrottled.
RateLimitConfiguration.objects.create(enabled=True)


def user(username, email, staff=False):
    u, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    u.email = email
    u.is_staff = staff  # GlobalStaff / IsAdminUser look at is_staff, not is_superuser
    u.is_active = True
    u.set_password(PASSWORD)
    u.save()
    UserProfile.objects.get_or_create(user=u, defaults={"name": username.replace("_", " ").title()})
    return u


def application(owner, client_id, secret):
    Application.objects.update_or_create(
        client_id=client_id,
        defaults=dict(
            user=owner, name=client_id, client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret, redirect_uris="", skip_authorization=True,
        ),
    )


service = user("edx_hooks_service", "service@edx-hooks.test", staff=True)
application(service, "edx-hooks-service", "edx-hooks-service-secret")
# A second application of the service user, marked restricted (its JWTs carry
# `is_restricted: true`): what edx-hooks-doctor's `lms.application_unrestricted` catches.
application(service, "edx-hooks-restricted", "edx-hooks-restricted-secret")
RestrictedApplication.objects.get_or_create(
    application=Application.objects.get(client_id="edx-hooks-restricted"))
nonstaff = user("edx_hooks_nonstaff", "nonstaff@edx-hooks.test")
application(nonstaff, "edx-hooks-nonstaff", "edx-hooks-nonstaff-secret")
for name in ("alice", "bob", "carol", "dave", "erin", "frank", "verified_vera", "full_holder"):
    user(name, f"{name}@learners.test")


def course(key, name, *, enroll_from, enroll_until, start, end, modes=("audit", "verified"),
           invitation_only=False, max_enrollments=None, visibility="both", language="en"):
    ck = CourseKey.from_string(key)
    overview, _ = CourseOverview.objects.update_or_create(
        id=ck,
        defaults=dict(
            version=CourseOverview.VERSION, _location=ck.make_usage_key("course", "course"),
            org=ck.org, display_name=name,
            display_number_with_default=ck.course, display_org_with_default=ck.org,
            start=start, end=end, enrollment_start=enroll_from, enrollment_end=enroll_until,
            banner_image_url="", course_image_url="/static/images/course_image.jpg",
            cert_name_short="", cert_name_long="", _pre_requisite_courses_json="[]",
            invitation_only=invitation_only, max_student_enrollments_allowed=max_enrollments,
            self_paced=False, mobile_available=True, catalog_visibility=visibility,
            short_description=f"{name} (edx-hooks conformance tier)", language=language,
            certificates_display_behavior="end", lowest_passing_grade=0.5,
        ),
    )
    CourseOverviewImageSet.objects.get_or_create(course_overview=overview)
    for slug in modes:
        CourseMode.objects.update_or_create(
            course_id=ck, mode_slug=slug,
            defaults=dict(mode_display_name=slug.replace("-", " ").title(),
                          min_price=0 if slug in ("audit", "honor") else 49, currency="usd"),
        )
    return ck


running = dict(enroll_from=NOW - 30 * DAY, enroll_until=NOW + 300 * DAY,
               start=NOW - 10 * DAY, end=NOW + 365 * DAY)
course("course-v1:EdxHooksX+OPEN101+2026", "Open Course", **running)
course("course-v1:EdxHooksX+CLOSED201+2026", "Enrollment Closed",
       enroll_from=NOW - 60 * DAY, enroll_until=NOW - DAY, start=NOW - 50 * DAY, end=NOW + 100 * DAY)
course("course-v1:EdxHooksX+UPCOMING301+2027", "Upcoming Course",
       enroll_from=NOW + 30 * DAY, enroll_until=NOW + 90 * DAY, start=NOW + 40 * DAY, end=NOW + 200 * DAY,
       language="fr")
course("course-v1:EdxHooksX+INVITE401+2026", "Invitation Only", invitation_only=True, **running)
full = course("course-v1:EdxHooksX+FULL501+2026", "Full Course", max_enrollments=1, **running)
course("course-v1:EdxHooksX+VERIFIED601+2026", "Verified Only", modes=("verified",), **running)
course("course-v1:OtherU+HIDDEN701+2026", "Hidden Course", visibility="none", **running)
course("course-v1:OtherU+ABOUT801+2026", "About-Only Course", visibility="about", **running)
course("EdxHooksX/OLD901/2025", "Old-Style Key", modes=("honor",), **running)
course("course-v1:ThirdU+PROF110+2026", "Professional Course", modes=("no-id-professional",), **running)
# Filler for the resync's pagination: several pages at a small page size.
for n in range(1, 13):
    course(f"course-v1:ThirdU+FILL{n:03d}+2026", f"Filler {n}", **running)

# The full course's one seat, and a verified learner (the downgrade check).
CourseEnrollment.enroll(User.objects.get(username="full_holder"), full, mode="audit")
CourseEnrollment.enroll(User.objects.get(username="verified_vera"),
                        CourseKey.from_string("course-v1:EdxHooksX+OPEN101+2026"), mode="verified")

print("seeded", User.objects.count(), "users,", CourseOverview.objects.count(), "courses,",
      CourseMode.objects.count(), "modes,", CourseEnrollment.objects.count(), "enrollments")
