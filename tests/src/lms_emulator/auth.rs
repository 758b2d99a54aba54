//! `POST /oauth2/access_token` and JWT header authentication.

use axum::response::Response;
use serde_json::{json, Value};

use super::http::{
    add_header, empty, error, form_decode, json, Kind, Req, Style, INVALID_TOKEN, NOT_AUTHENTICATED,
};
use super::server::Shared;
use super::state::User;

/// Scopes an edx-platform OAuth application may request
/// (`lms/envs/common.py` `OAUTH2_PROVIDER['SCOPES']`).
const KNOWN_SCOPES: &[&str] = &[
    "read",
    "write",
    "email",
    "profile",
    "user_id",
    "grades:read",
    "certificates:read",
    "tpa",
    "api_management",
];

fn oauth_error(status: u16, error: &str, description: Option<&str>) -> Response {
    let mut body = json!({ "error": error });
    if let Some(d) = description {
        body["error_description"] = Value::String(d.to_owned());
    }
    let resp = json(status, body);
    let resp = add_header(resp, "cache-control", "no-store");
    let resp = add_header(resp, "pragma", "no-cache");
    if status == 401 {
        add_header(
            resp,
            "www-authenticate",
            &format!("Bearer error=\"{error}\""),
        )
    } else {
        resp
    }
}

fn basic_credentials(req: &Req) -> Option<(String, String)> {
    let value = req.header("authorization")?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(b64.trim())?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((
        super::http::percent_decode(id),
        super::http::percent_decode(secret),
    ))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        } as u32;
        buf = (buf << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `POST /oauth2/access_token`.
///
/// edx-platform `openedx/core/djangoapps/oauth_dispatch/views.py`
/// `AccessTokenView.dispatch` (→ django-oauth-toolkit `TokenView` → oauthlib
/// `TokenEndpoint.create_token_response` / `ClientCredentialsGrant`), then,
/// for `token_type=jwt` (form field, else `X-Token-Type` header; lower-cased
/// by `_get_token_type`), the body is replaced by
/// `oauth_dispatch/jwt.py` `create_jwt_token_dict`: `access_token` (a JWT;
/// here an opaque string), `token_type: "JWT"`, `expires_in`, `scope`.
/// Errors are oauthlib's JSON: unknown grant → 400
/// `{"error": "unsupported_grant_type"}` (a missing or unknown grant falls to
/// the default authorization-code handler, which rejects it before
/// authenticating the client); bad client → 401 `{"error": "invalid_client"}`;
/// query parameters on POST → 400 `invalid_request`.
pub(crate) fn access_token(shared: &Shared, req: &Req) -> Response {
    if req.method != axum::http::Method::POST {
        // Django `View.http_method_not_allowed`: 405, empty body, `Allow` header.
        return add_header(empty(405), "allow", "POST, OPTIONS");
    }
    if req.raw_query.as_deref().is_some_and(|q| !q.is_empty()) {
        return oauth_error(
            400,
            "invalid_request",
            Some("URL query parameters are not allowed"),
        );
    }
    let form = form_decode(&String::from_utf8_lossy(&req.body));
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    for k in ["client_id", "grant_type", "scope"] {
        if form.iter().filter(|(key, _)| key == k).count() > 1 {
            return oauth_error(
                400,
                "invalid_request",
                Some(&format!("Duplicate {k} parameter.")),
            );
        }
    }
    if get("grant_type") != Some("client_credentials") {
        return oauth_error(400, "unsupported_grant_type", None);
    }
    let (client_id, secret) = match basic_credentials(req) {
        Some(c) => c,
        None => (
            get("client_id").unwrap_or("").to_owned(),
            get("client_secret").unwrap_or("").to_owned(),
        ),
    };
    let token_type = get("token_type")
        .map(str::to_owned)
        .or_else(|| req.header("x-token-type").map(str::to_owned))
        .unwrap_or_else(|| "no_token_type_supplied".to_owned())
        .to_lowercase();

    let mut state = shared.state();
    let client = match state.oauth_clients.get(&client_id) {
        Some(c) if c.client_secret == secret && !secret.is_empty() => c.clone(),
        _ => return oauth_error(401, "invalid_client", None),
    };
    if !client.client_credentials_allowed {
        return oauth_error(400, "unauthorized_client", None);
    }
    let scope = match get("scope") {
        Some(s) if !s.trim().is_empty() => {
            let wanted: Vec<&str> = s.split_whitespace().collect();
            if wanted.iter().any(|w| !KNOWN_SCOPES.contains(w)) {
                return oauth_error(400, "invalid_scope", None);
            }
            wanted.join(" ")
        }
        _ => shared.config.scope.clone(),
    };
    let jwt = token_type == "jwt";
    let issued = state.issue_token(
        &client,
        if jwt { "JWT" } else { "Bearer" },
        shared.config.token_ttl(),
    );
    let body = json!({
        "access_token": issued.token,
        "expires_in": shared.config.token_ttl_secs,
        "token_type": if jwt { "JWT" } else { "Bearer" },
        "scope": scope,
    });
    add_header(
        add_header(json(200, body), "cache-control", "no-store"),
        "pragma",
        "no-cache",
    )
}

/// Outcome of authenticating a request.
pub(crate) enum Authn {
    /// No usable credentials (DRF `request.user` is `AnonymousUser`).
    Anonymous,
    User(User),
    /// A `JWT <token>` header that did not verify.
    Invalid,
}

/// edx-drf-extensions `JwtAuthentication` (on drf-jwt
/// `JSONWebTokenAuthentication.get_token_from_authorization_header`):
/// the header must split on `' '` into exactly `<prefix> <token>` with the
/// prefix `JWT` (case-insensitive); anything else means "no JWT here" and the
/// request stays anonymous (→ 401 "Authentication credentials were not
/// provided." where authentication is required). A token that fails to
/// verify — unknown, expired or revoked — raises `AuthenticationFailed
/// ("Invalid token.")`: edx-drf-extensions `decoder.py`
/// `_verify_jwt_signature` wraps every verification error, expiry included,
/// in `jwt.InvalidTokenError`, which drf-jwt maps to "Invalid token.".
/// `Bearer` (DOT) tokens are not emulated: they count as no credentials.
pub(crate) fn authenticate(shared: &Shared, req: &Req) -> Authn {
    let Some(value) = req.header("authorization") else {
        return Authn::Anonymous;
    };
    let parts: Vec<&str> = value.split(' ').collect();
    if parts.len() != 2 || !parts[0].eq_ignore_ascii_case("jwt") || parts[1].is_empty() {
        return Authn::Anonymous;
    }
    match shared.state().check_token(parts[1], "JWT") {
        Ok(user) => Authn::User(user.clone()),
        Err(_) => Authn::Invalid,
    }
}

/// `X-Edx-Api-Key` matches `EmulatorConfig::api_key`
/// (`openedx/core/lib/api/permissions.py` `ApiKeyHeaderPermission`).
pub(crate) fn has_api_key(shared: &Shared, req: &Req) -> bool {
    match (&shared.config.api_key, req.header("x-edx-api-key")) {
        (Some(k), Some(h)) => k == h,
        _ => false,
    }
}

/// Authenticate for a view whose permission requires a user (or API key when
/// `allow_api_key`): `Ok(Some(user))`, `Ok(None)` (API key, anonymous) or the
/// 401 response.
pub(crate) fn require_user(
    shared: &Shared,
    req: &Req,
    style: Style,
    allow_api_key: bool,
) -> Result<Option<User>, Response> {
    match authenticate(shared, req) {
        Authn::User(u) => Ok(Some(u)),
        Authn::Invalid => Err(error(
            style,
            Kind::AuthenticationFailed,
            401,
            INVALID_TOKEN,
            &req.path,
            None,
        )),
        Authn::Anonymous if allow_api_key && has_api_key(shared, req) => Ok(None),
        Authn::Anonymous => Err(error(
            style,
            Kind::NotAuthenticated,
            401,
            NOT_AUTHENTICATED,
            &req.path,
            None,
        )),
    }
}
