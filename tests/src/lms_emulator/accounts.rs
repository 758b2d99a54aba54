//! `GET /api/user/v1/accounts?email=` (and `?username=`).

use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::require_user;
use super::http::{empty, error, json, method_not_allowed, Kind, Req, Style, PERMISSION_DENIED};
use super::server::Shared;
use super::state::User;

/// The account object of `user_api/accounts/serializers.py`
/// `UserReadOnlySerializer` as `get_account_settings` returns it to staff
/// (the fields a client can rely on; profile fields default to empty).
pub(crate) fn account_json(u: &User, origin: &str) -> Value {
    let image = format!("{origin}/static/images/profiles/default_");
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "name": u.name,
        "is_active": u.is_active,
        "date_joined": u.date_joined.iso(),
        "last_login": null,
        "bio": null,
        "country": null,
        "state": null,
        "gender": null,
        "goals": null,
        "year_of_birth": null,
        "level_of_education": null,
        "mailing_address": null,
        "language": null,
        "language_proficiencies": [],
        "social_links": [],
        "profile_image": {
            "has_image": false,
            "image_url_full": format!("{image}500.png"),
            "image_url_large": format!("{image}120.png"),
            "image_url_medium": format!("{image}50.png"),
            "image_url_small": format!("{image}30.png"),
        },
        "requires_parental_consent": true,
        "account_privacy": "private",
        "accomplishments_shared": false,
        "extended_profile": [],
        "secondary_email": null,
        "secondary_email_enabled": null,
        "time_zone": null,
        "phone_number": null,
        "pending_name_change": null,
        "verified_name": null,
        "is_verified_name_enabled": false,
        "course_certificates": null,
    })
}

/// `AccountViewSet.list` (edx-platform
/// `openedx/core/djangoapps/user_api/accounts/views.py`), permissions
/// `(IsAuthenticated, CanGetAccountInfo)` from `accounts/permissions.py`:
/// a lookup by `email` or `lms_user_id` needs `is_staff`/`is_superuser`
/// (else 403 `{"detail": "You do not have permission to perform this
/// action."}`); no/invalid JWT → 401. Precedence `username` (comma list) >
/// `email` > `lms_user_id`. `email` → `User.objects.get(email=...)`:
/// unknown → 404 with an empty body; found → 200 JSON array with one account.
/// (Retired e-mails are not emulated.)
pub(crate) fn list(shared: &Shared, req: &Req) -> Response {
    let caller = match require_user(shared, req, Style::Drf, false) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error(
                Style::Drf,
                Kind::NotAuthenticated,
                401,
                super::http::NOT_AUTHENTICATED,
                &req.path,
                None,
            )
        }
        Err(resp) => return resp,
    };
    let email = req.q("email").filter(|e| !e.is_empty());
    let lms_user_id = req.q("lms_user_id").filter(|e| !e.is_empty());
    if (email.is_some() || lms_user_id.is_some()) && !(caller.is_staff || caller.is_superuser) {
        return error(
            Style::Drf,
            Kind::PermissionDenied,
            403,
            PERMISSION_DENIED,
            &req.path,
            None,
        );
    }
    if req.method != Method::GET {
        return method_not_allowed(&req.method);
    }
    let state = shared.state();
    let origin = req.origin();
    if let Some(usernames) = req.q("username").filter(|u| !u.is_empty()) {
        // get_account_settings(request, usernames): unknown usernames are
        // skipped; none found → UserNotFound → 404 empty.
        let found: Vec<Value> = usernames
            .split(',')
            .filter_map(|n| state.user(n.trim()))
            .filter(|u| u.username == caller.username || caller.is_staff || caller.is_superuser)
            .map(|u| account_json(u, &origin))
            .collect();
        return if found.is_empty() {
            empty(404)
        } else {
            json(200, Value::Array(found))
        };
    }
    if let Some(email) = email {
        return match state.user_by_email(email) {
            Some(u) => json(200, json!([account_json(u, &origin)])),
            None => empty(404),
        };
    }
    if let Some(id) = lms_user_id {
        return match id.parse::<u64>().ok().and_then(|id| state.user_by_id(id)) {
            Some(u) => json(200, json!([account_json(u, &origin)])),
            None => empty(404),
        };
    }
    // No query: the caller's own account.
    match state.user(&caller.username) {
        Some(u) => json(200, json!([account_json(u, &origin)])),
        None => empty(404),
    }
}
