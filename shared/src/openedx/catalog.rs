//! The catalog side of the REST adapter: what the Richie forwarder reads.
//! Course runs: `GET /api/courses/v1/courses/` and `/api/courses/v1/courses/{id}/`
//! (`lms/djangoapps/course_api/views.py` `CourseListView`, `CourseDetailView`).

use reqwest::Client;
use serde_json::Value;

use super::rest::{encode_path, opt_str};
use super::{CatalogLms, CoursePage, CourseRun, LmsError, OpenEdxClient};

impl CatalogLms for OpenEdxClient {
    async fn course_run(&self, course_id: &str) -> Result<Option<CourseRun>, LmsError> {
        const OP: &str = "course_detail";
        let url = self.url(&format!("/api/courses/v1/courses/{}/", encode_path(course_id)));
        let username = self.config().service_username.clone();
        let reply = self
            .execute(OP, Some(()), true, &|http: &Client| {
                let req = http.get(&url);
                match &username {
                    Some(u) => req.query(&[("username", u.as_str())]),
                    None => req,
                }
            })
            .await?;
        match reply.status.as_u16() {
            200 => {
                let v = reply.json(OP)?;
                Ok(Some(CourseRun {
                    course_id: opt_str(&v, "id").unwrap_or_else(|| course_id.to_owned()),
                    name: opt_str(&v, "name"),
                    start: opt_str(&v, "start"),
                    end: opt_str(&v, "end"),
                    enrollment_start: opt_str(&v, "enrollment_start"),
                    enrollment_end: opt_str(&v, "enrollment_end"),
                    language: opt_str(&v, "language"),
                    catalog_visibility: opt_str(&v, "catalog_visibility"),
                    hidden: v.get("hidden").and_then(Value::as_bool),
                    enrollment_count: None,
                }))
            }
            404 => Ok(None),
            403 => Err(LmsError::Forbidden { operation: OP, status: 403 }),
            status => Err(LmsError::UnexpectedStatus { operation: OP, status }),
        }
    }

    async fn list_courses(&self, page: u32, page_size: u32) -> Result<CoursePage, LmsError> {
        const OP: &str = "course_list";
        let url = self.url("/api/courses/v1/courses/");
        let username = self.config().service_username.clone();
        let page_s = page.to_string();
        let size_s = page_size.to_string();
        let reply = self
            .execute(OP, Some(()), true, &|http: &Client| {
                let mut q: Vec<(&str, &str)> = vec![("page", &page_s), ("page_size", &size_s)];
                if let Some(u) = &username {
                    q.push(("username", u));
                }
                http.get(&url).query(&q)
            })
            .await?;
        match reply.status.as_u16() {
            200 => {
                let v = reply.json(OP)?;
                let course_ids = v
                    .get("results")
                    .and_then(Value::as_array)
                    .map(|rows| rows.iter().filter_map(|r| opt_str(r, "id")).collect())
                    .unwrap_or_default();
                let pagination = v.get("pagination").unwrap_or(&v);
                let has_next = pagination.get("next").is_some_and(|n| !n.is_null());
                Ok(CoursePage {
                    course_ids,
                    next_page: has_next.then_some(page + 1),
                    total: pagination.get("count").and_then(Value::as_u64),
                })
            }
            404 => Ok(CoursePage { course_ids: vec![], next_page: None, total: None }),
            403 => Err(LmsError::Forbidden { operation: OP, status: 403 }),
            status => Err(LmsError::UnexpectedStatus { operation: OP, status }),
        }
    }
}

