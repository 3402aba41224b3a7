//! One method per Stream endpoint, named after Stream's operation. Each is a single call: no
//! batching, pacing or retrying happens here.

use std::collections::BTreeMap;

use gymchat_ids::{Cid, StreamUserId};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{Answer, Client};
use crate::error::StreamError;
use crate::model::{
    ChannelData, ChannelQuery, ChannelState, ChannelUpdate, Message, NewMessage, Task, UpdatedChannel, User, UserPatch,
};

/// App settings gymchat reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AppSettings {
    /// Multi-tenancy switch.
    #[serde(default)]
    pub multi_tenant_enabled: bool,
}

#[derive(Deserialize)]
struct AppBody {
    app: AppSettings,
}
#[derive(Deserialize)]
struct UsersMap {
    users: BTreeMap<String, User>,
}
#[derive(Deserialize)]
struct UsersList {
    users: Vec<User>,
}
#[derive(Deserialize)]
struct OneUser {
    user: User,
}
#[derive(Deserialize)]
struct TaskId {
    task_id: String,
}
#[derive(Deserialize)]
struct ChannelsList {
    channels: Vec<ChannelState>,
}
#[derive(Deserialize)]
struct OneChannel {
    channel: crate::model::Channel,
}
#[derive(Deserialize)]
struct OneMessage {
    message: Message,
}
#[derive(Deserialize)]
struct Empty {}

#[derive(Serialize)]
struct UpsertBody<'a> {
    users: BTreeMap<&'a str, &'a User>,
}

#[derive(Serialize)]
struct MessagePage<'a> {
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_lt: Option<&'a str>,
}

#[derive(Serialize)]
struct GetOrCreateBody<'a> {
    state: bool,
    messages: MessagePage<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a ChannelData>,
}

/// What a send achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// The message was created now.
    New(Message),
    /// A message with this id already existed: an earlier attempt was applied.
    AlreadyExisted,
}

/// A delete that finds nothing to delete has nothing left to do.
fn gone_is_done<T>(result: Result<T, StreamError>) -> Result<Option<T>, StreamError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn channel_path(cid: &Cid, suffix: &str) -> String {
    format!("/channels/{}/{}{suffix}", cid.channel_type(), cid.id())
}

impl Client {
    /// `GET /app`.
    pub async fn get_app(&self) -> Result<Answer<AppSettings>, StreamError> {
        let a: Answer<AppBody> = self.call::<Value, _>("GetApp", Method::GET, "/app", &[], None).await?;
        Ok(Answer { body: a.body.app, rate_limit: a.rate_limit })
    }

    /// `PATCH /app {"multi_tenant_enabled"}`.
    pub async fn set_multi_tenant(&self, enabled: bool) -> Result<(), StreamError> {
        let body = json!({ "multi_tenant_enabled": enabled });
        self.call::<_, Empty>("UpdateApp", Method::PATCH, "/app", &[], Some(&body)).await.map(|_| ())
    }

    /// `POST /users`: creates or replaces each user whole (fields not sent are removed). Stream
    /// takes at most 100 per call.
    pub async fn upsert_users(&self, users: &[User]) -> Result<Answer<BTreeMap<String, User>>, StreamError> {
        let body = UpsertBody { users: users.iter().map(|u| (u.id.as_str(), u)).collect() };
        let a: Answer<UsersMap> = self.call("UpdateUsers", Method::POST, "/users", &[], Some(&body)).await?;
        Ok(Answer { body: a.body.users, rate_limit: a.rate_limit })
    }

    /// `PATCH /users`: set and unset fields without touching the rest (at most 100).
    pub async fn update_users_partial(
        &self,
        patches: &[UserPatch],
    ) -> Result<Answer<BTreeMap<String, User>>, StreamError> {
        let body = json!({ "users": patches });
        let a: Answer<UsersMap> = self.call("UpdateUsersPartial", Method::PATCH, "/users", &[], Some(&body)).await?;
        Ok(Answer { body: a.body.users, rate_limit: a.rate_limit })
    }

    /// `GET /users?payload=…`: `limit` ≤ 100, `offset` ≤ 1,000.
    pub async fn query_users(&self, filter: Value, limit: u32, offset: u32) -> Result<Answer<Vec<User>>, StreamError> {
        let payload = json!({ "filter_conditions": filter, "limit": limit, "offset": offset }).to_string();
        let a: Answer<UsersList> =
            self.call::<Value, _>("QueryUsers", Method::GET, "/users", &[("payload", payload)], None).await?;
        Ok(Answer { body: a.body.users, rate_limit: a.rate_limit })
    }

    /// `DELETE /users/{id}` (soft unless `hard`); `None` when the user was already gone (404),
    /// which is what a repeated delete finds.
    pub async fn delete_user(&self, id: &StreamUserId, hard: bool) -> Result<Option<User>, StreamError> {
        let path = format!("/users/{id}");
        let a: Result<Answer<OneUser>, _> = self
            .call::<Value, _>("DeleteUser", Method::DELETE, &path, &[("hard_delete", hard.to_string())], None)
            .await;
        gone_is_done(a.map(|a| a.body.user))
    }

    /// `POST /users/delete` (1 to 100 ids): returns the task id.
    pub async fn delete_users(&self, ids: &[StreamUserId], hard: bool) -> Result<String, StreamError> {
        let body = json!({ "user_ids": ids, "user": if hard { "hard" } else { "soft" } });
        let a: Answer<TaskId> = self.call("DeleteUsers", Method::POST, "/users/delete", &[], Some(&body)).await?;
        Ok(a.body.task_id)
    }

    /// `GET /tasks/{id}`.
    pub async fn get_task(&self, id: &str) -> Result<Task, StreamError> {
        let path = format!("/tasks/{id}");
        Ok(self.call::<Value, Task>("GetTask", Method::GET, &path, &[], None).await?.body)
    }

    /// `POST /channels/{type}/{id}/query`: the channel with its newest `message_limit` messages
    /// (before `id_lt` when given), oldest first; created from `data` when it does not exist.
    pub async fn get_or_create_channel(
        &self,
        cid: &Cid,
        data: Option<&ChannelData>,
        message_limit: u32,
        id_lt: Option<&str>,
    ) -> Result<Answer<ChannelState>, StreamError> {
        let body = GetOrCreateBody { state: true, messages: MessagePage { limit: message_limit, id_lt }, data };
        self.call("GetOrCreateChannel", Method::POST, &channel_path(cid, "/query"), &[], Some(&body)).await
    }

    /// `POST /channels`.
    pub async fn query_channels(&self, query: &ChannelQuery) -> Result<Answer<Vec<ChannelState>>, StreamError> {
        let a: Answer<ChannelsList> = self.call("QueryChannels", Method::POST, "/channels", &[], Some(query)).await?;
        Ok(Answer { body: a.body.channels, rate_limit: a.rate_limit })
    }

    /// `POST /channels/{type}/{id}`: data, members and an optional message in one call.
    pub async fn update_channel(
        &self,
        cid: &Cid,
        update: &ChannelUpdate,
    ) -> Result<Answer<UpdatedChannel>, StreamError> {
        self.call("UpdateChannel", Method::POST, &channel_path(cid, ""), &[], Some(update)).await
    }

    /// `PATCH /channels/{type}/{id}` with `set` and `unset`.
    pub async fn update_channel_partial(
        &self,
        cid: &Cid,
        set: Map<String, Value>,
        unset: &[&str],
    ) -> Result<Answer<UpdatedChannel>, StreamError> {
        let body = json!({ "set": set, "unset": unset });
        self.call("UpdateChannelPartial", Method::PATCH, &channel_path(cid, ""), &[], Some(&body)).await
    }

    /// `DELETE /channels/{type}/{id}` (soft unless `hard`); `None` when the channel was already
    /// gone (404), which is what a repeated delete finds.
    pub async fn delete_channel(&self, cid: &Cid, hard: bool) -> Result<Option<crate::model::Channel>, StreamError> {
        let query = [("hard_delete", hard.to_string())];
        let a: Result<Answer<OneChannel>, _> =
            self.call::<Value, _>("DeleteChannel", Method::DELETE, &channel_path(cid, ""), &query, None).await;
        gone_is_done(a.map(|a| a.body.channel))
    }

    /// `POST /channels/delete` (1 to 100 cids): returns the task id.
    pub async fn delete_channels(&self, cids: &[Cid], hard: bool) -> Result<String, StreamError> {
        let body = json!({ "cids": cids, "hard_delete": hard });
        let a: Answer<TaskId> = self.call("DeleteChannels", Method::POST, "/channels/delete", &[], Some(&body)).await?;
        Ok(a.body.task_id)
    }

    /// `POST /channels/{type}/{id}/message`.
    ///
    /// The message's own id makes the send safe to repeat: "a message with ID … already exists"
    /// (a repeat of a send that was applied but whose answer was lost, or a rerun) is
    /// [`Sent::AlreadyExisted`].
    pub async fn send_message(&self, cid: &Cid, message: &NewMessage, skip_push: bool) -> Result<Sent, StreamError> {
        let body = json!({ "message": message, "skip_push": skip_push });
        let sent: Result<Answer<OneMessage>, _> =
            self.call("SendMessage", Method::POST, &channel_path(cid, "/message"), &[], Some(&body)).await;
        match sent {
            Ok(a) => Ok(Sent::New(a.body.message)),
            Err(e) if e.already_exists() => Ok(Sent::AlreadyExisted),
            Err(e) => Err(e),
        }
    }

    /// `POST /channels/{type}/{id}/hide` for `user`.
    pub async fn hide_channel(&self, cid: &Cid, user: &StreamUserId, clear_history: bool) -> Result<(), StreamError> {
        let body = json!({ "user_id": user, "clear_history": clear_history });
        self.call::<_, Empty>("HideChannel", Method::POST, &channel_path(cid, "/hide"), &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// `POST /channels/{type}/{id}/show` for `user`.
    pub async fn show_channel(&self, cid: &Cid, user: &StreamUserId) -> Result<(), StreamError> {
        let body = json!({ "user_id": user });
        self.call::<_, Empty>("ShowChannel", Method::POST, &channel_path(cid, "/show"), &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// `POST /channels/{type}/{id}/truncate`.
    pub async fn truncate_channel(&self, cid: &Cid) -> Result<(), StreamError> {
        self.call::<Value, Empty>(
            "TruncateChannel",
            Method::POST,
            &channel_path(cid, "/truncate"),
            &[],
            Some(&json!({})),
        )
        .await
        .map(|_| ())
    }
}
