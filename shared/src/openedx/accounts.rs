//! Account lookup: `GET /api/user/v1/accounts?email=`
//! (`openedx/core/djangoapps/user_api/accounts/views.py` `AccountViewSet.list`;
//! `permissions.py` `CanGetAccountInfo`: staff only for `email`). 200 `[account]`;
//! an unknown email is 404 with an empty body.

use super::transport::{invalid, Call};
use super::{LmsError, LmsUser, OpenEdxClient};
use crate::openedx_parse::parse_account;

impl OpenEdxClient {
    pub(super) async fn account_by_email(&self, email: &str) -> Result<Option<LmsUser>, LmsError> {
        const CALL: Call = Call::new("find_user");
        let url = self.transport.url("/api/user/v1/accounts");
        let reply = self
            .transport
            .send(CALL, |http| http.get(&url).query(&[("email", email)]))
            .await?;
        match reply.code() {
            200 => parse_account(&reply.body).map_err(invalid(CALL.operation)),
            404 => Ok(None),
            _ => Err(reply.unexpected(CALL.operation)),
        }
    }
}
