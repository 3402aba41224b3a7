//! Users: upsert, partial update, query, delete one, delete many.

use std::collections::BTreeMap;

use gymchat_ids::StreamUserId;
use reqwest::Method;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::shared::{gone_is_done, segment};
use crate::client::{Answer, Client};
use crate::error::{ErrorKind, StreamError};
use crate::model::{User, UserPatch, decode_each};

#[derive(Deserialize)]
struct UsersMap {
    users: BTreeMap<String, User>,
}
#[derive(Deserialize)]
struct UsersList {
    users: Vec<Box<RawValue>>,
}
#[derive(Deserialize)]
struct TaskId {
    task_id: String,
}
#[derive(Serialize)]
struct UpsertBody<'a> {
    users: BTreeMap<&'a str, &'a User>,
}

/// How `POST /users/delete` deletes a batch of users. Stream refuses a hard user delete unless
/// messages and conversations are hard deleted too, and deleting conversations deletes every
/// channel the user is in: so a hard delete is only offered together with that, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserDeletion {
    hard: bool,
}

impl UserDeletion {
    /// Soft-deletes the users; their messages and channels stay.
    pub fn soft() -> Self {
        Self { hard: false }
    }

    /// Deletes the users for good, with every message they sent and every channel they are a
    /// member of (Stream's rule for a hard user delete). Never for a migration's legacy users.
    pub fn hard_with_messages_and_conversations() -> Self {
        Self { hard: true }
    }

    fn body(&self, ids: &[StreamUserId]) -> Value {
        if self.hard {
            json!({ "user_ids": ids, "user": "hard", "messages": "hard", "conversations": "hard" })
        } else {
            json!({ "user_ids": ids, "user": "soft" })
        }
    }
}

impl Client {
    /// `POST /users`: creates or replaces each user whole (fields not sent are removed). Stream
    /// takes at most 100 per call. Safe to repeat.
    pub async fn upsert_users(&self, users: &[User]) -> Result<Answer<BTreeMap<String, User>>, StreamError> {
        let body = UpsertBody { users: users.iter().map(|u| (u.id.as_str(), u)).collect() };
        let a: Answer<UsersMap> = self.call("UpdateUsers", Method::POST, "/users", &[], Some(&body)).await?;
        Ok(a.map(|b| b.users))
    }

    /// `PATCH /users`: set and unset fields without touching the rest (at most 100). Safe to repeat.
    pub async fn update_users_partial(
        &self,
        patches: &[UserPatch],
    ) -> Result<Answer<BTreeMap<String, User>>, StreamError> {
        let body = json!({ "users": patches });
        let a: Answer<UsersMap> = self.call("UpdateUsersPartial", Method::PATCH, "/users", &[], Some(&body)).await?;
        Ok(a.map(|b| b.users))
    }

    /// `GET /users?payload=…`: `limit` ≤ 100, `offset` ≤ 1,000, deactivated users included. A user that cannot be decoded is
    /// left out of the body and named in [`Answer::undecodable`].
    pub async fn query_users(&self, filter: Value, limit: u32, offset: u32) -> Result<Answer<Vec<User>>, StreamError> {
        // Deactivated users too: whoever looks users up must see every one of them.
        let payload = json!({
            "filter_conditions": filter,
            "limit": limit,
            "offset": offset,
            "include_deactivated_users": true,
        })
        .to_string();
        let a: Answer<UsersList> =
            self.call::<Value, _>("QueryUsers", Method::GET, "/users", &[("payload", payload)], None).await?;
        let (users, undecodable) = decode_each(a.body.users, |v| v.get("id")?.as_str().map(str::to_owned));
        Ok(Answer { body: users, rate_limit: a.rate_limit, undecodable })
    }

    /// `DELETE /users/{id}` (soft unless `hard`): true when deleted now, false when Stream says
    /// the user does not exist (what a repeated delete finds). The answer's body is not relied on.
    pub async fn delete_user(&self, id: &StreamUserId, hard: bool) -> Result<bool, StreamError> {
        let path = format!("/users/{}", segment(id.as_str()));
        let a = self
            .call::<Value, IgnoredAny>("DeleteUser", Method::DELETE, &path, &[("hard_delete", hard.to_string())], None)
            .await;
        Ok(gone_is_done(a)?.is_some())
    }

    /// `POST /users/delete` (1 to 100 ids) with the options `how` names: returns the task id.
    pub async fn delete_users(&self, ids: &[StreamUserId], how: UserDeletion) -> Result<String, StreamError> {
        if ids.is_empty() || ids.len() > crate::limits::BATCH {
            return Err(StreamError::new("DeleteUsers", ErrorKind::Refused("send between 1 and 100 user ids".into())));
        }
        let body = how.body(ids);
        let a: Answer<TaskId> = self.call("DeleteUsers", Method::POST, "/users/delete", &[], Some(&body)).await?;
        Ok(a.body.task_id)
    }
}
