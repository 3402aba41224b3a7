//! Channels: get-or-create, query, update (full and partial), delete one or many, hide, show,
//! truncate.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use gymchat_ids::{Cid, StreamUserId};
use reqwest::Method;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::shared::{channel_path, gone_is_done};
use crate::client::{Answer, Client};
use crate::error::{ErrorKind, StreamError};
use crate::limits::MEMBER_PAGE;
use crate::model::{Channel, ChannelData, ChannelQuery, ChannelState, ChannelUpdate, UpdatedChannel, decode_each};

#[derive(Deserialize)]
struct TaskId {
    task_id: String,
}
#[derive(Deserialize)]
struct ChannelsList {
    channels: Vec<Box<RawValue>>,
}
#[derive(Deserialize)]
struct OneChannel {
    channel: Channel,
}

#[derive(Serialize)]
struct Page<'a> {
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_lt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u32>,
}

#[derive(Serialize)]
struct GetOrCreateBody<'a> {
    state: bool,
    /// A server never watches a channel nor asks for presence (the SDK's default is to watch).
    watch: bool,
    presence: bool,
    messages: Page<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Page<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a ChannelData>,
}

/// What a channel update achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// Applied now.
    Now(Box<UpdatedChannel>),
    /// An earlier attempt had applied it (its answer was lost): Stream answered that the update's
    /// message already exists, and the channel, read again, holds every change and the message.
    AlreadyApplied,
}

impl Client {
    /// `POST /channels/{type}/{id}/query`: the channel with its newest `message_limit` messages
    /// (before `id_lt` when given), oldest first; created from `data` when it does not exist.
    /// `data` is treated as create-only: change an existing channel with an update. Safe to repeat.
    pub async fn get_or_create_channel(
        &self,
        cid: &Cid,
        data: Option<&ChannelData>,
        message_limit: u32,
        id_lt: Option<&str>,
    ) -> Result<Answer<ChannelState>, StreamError> {
        let body = GetOrCreateBody {
            state: true,
            watch: false,
            presence: false,
            messages: Page { limit: message_limit, id_lt, offset: None },
            members: None,
            data,
        };
        self.call("GetOrCreateChannel", Method::POST, &channel_path(cid, "/query"), &[], Some(&body)).await
    }

    /// One page of a channel's members (most recently added first), and the channel.
    pub(crate) async fn channel_members_page(&self, cid: &Cid, offset: u32) -> Result<ChannelState, StreamError> {
        let body = GetOrCreateBody {
            state: true,
            watch: false,
            presence: false,
            messages: Page { limit: 0, id_lt: None, offset: None },
            members: Some(Page { limit: MEMBER_PAGE, id_lt: None, offset: Some(offset) }),
            data: None,
        };
        let a: Answer<ChannelState> =
            self.call("GetOrCreateChannel", Method::POST, &channel_path(cid, "/query"), &[], Some(&body)).await?;
        Ok(a.body)
    }

    /// `POST /channels`. A channel that cannot be decoded is left out of the body and named (by
    /// cid) in [`Answer::undecodable`].
    pub async fn query_channels(&self, query: &ChannelQuery) -> Result<Answer<Vec<ChannelState>>, StreamError> {
        let mut body = serde_json::to_value(query)
            .map_err(|e| StreamError::new("QueryChannels", ErrorKind::Refused(e.to_string())))?;
        // A server never watches the channels it lists nor asks for presence.
        body["watch"] = Value::Bool(false);
        body["presence"] = Value::Bool(false);
        let a: Answer<ChannelsList> = self.call("QueryChannels", Method::POST, "/channels", &[], Some(&body)).await?;
        let cid = |v: &Value| v.get("channel")?.get("cid")?.as_str().map(str::to_owned);
        let (channels, undecodable) = decode_each(a.body.channels, cid);
        Ok(Answer { body: channels, rate_limit: a.rate_limit, undecodable })
    }

    /// `POST /channels/{type}/{id}`: members added and removed, or, with `data`, a full update
    /// that replaces the channel's data (use [`Client::update_channel_data`] to keep what is not
    /// changed); either with an optional message. Data and member changes in one update are
    /// refused before sending ([`ErrorKind::Refused`]): the docs and Stream's own SDK keep them
    /// apart.
    ///
    /// Safe to repeat: adding and removing members, and setting data, are idempotent; a message
    /// has its own id, and a repeat answered "already exists" is settled by reading the channel
    /// and the message again ([`Updated::AlreadyApplied`] when every change is there, else
    /// [`ErrorKind::Conflict`]).
    pub async fn update_channel(&self, cid: &Cid, update: &ChannelUpdate) -> Result<Updated, StreamError> {
        if update.data.is_some() && !(update.add_members.is_empty() && update.remove_members.is_empty()) {
            let why = "a data update and member changes go in separate updates".to_owned();
            return Err(StreamError::new("UpdateChannel", ErrorKind::Refused(why)));
        }
        let answer: Result<Answer<UpdatedChannel>, _> =
            self.call("UpdateChannel", Method::POST, &channel_path(cid, ""), &[], Some(update)).await;
        match (answer, &update.message) {
            (Ok(a), _) => Ok(Updated::Now(Box::new(a.body))),
            (Err(e), Some(message)) if e.already_exists() => {
                self.settle_existing(cid, &message.id, "UpdateChannel").await?;
                self.check_applied(cid, update).await?;
                Ok(Updated::AlreadyApplied)
            }
            (Err(e), _) => Err(e),
        }
    }

    /// Reads the channel again and checks that `update`'s data and member changes are there.
    async fn check_applied(&self, cid: &Cid, update: &ChannelUpdate) -> Result<(), StreamError> {
        let members = self.channel_members(cid).await?;
        let state = self.get_or_create_channel(cid, None, 0, None).await?.body;
        let conflict = |why: String| Err(StreamError::new("UpdateChannel", ErrorKind::Conflict(why)));
        if let Some(data) = &update.data {
            for (field, want) in data {
                let have = state.channel.field(field);
                if have.as_ref() != Some(want) && !(want.is_null() && have.is_none()) {
                    return conflict(format!("{cid}: {field} is {have:?}, the update set {want}"));
                }
            }
        }
        let present: BTreeSet<&StreamUserId> = members.iter().collect();
        if let Some(missing) = update.add_members.iter().map(|m| &m.user_id).find(|m| !present.contains(m)) {
            return conflict(format!("{cid}: {missing} was to be added and is not a member"));
        }
        if let Some(kept) = update.remove_members.iter().find(|m| present.contains(m)) {
            return conflict(format!("{cid}: {kept} was to be removed and is still a member"));
        }
        Ok(())
    }

    /// A full update that keeps what it does not change: reads the channel, sends back its team,
    /// frozen, name and every custom field with `edit` applied, plus `rest` (members, message).
    /// Stream deletes any data a full update does not carry, so never send a full update built
    /// any other way.
    pub async fn update_channel_data(
        &self,
        cid: &Cid,
        edit: impl FnOnce(&mut Map<String, Value>),
        rest: ChannelUpdate,
    ) -> Result<Updated, StreamError> {
        let current = self.get_or_create_channel(cid, None, 0, None).await?.body.channel;
        let mut data = current.data_for_full_update();
        edit(&mut data);
        self.update_channel(cid, &ChannelUpdate { data: Some(data), ..rest }).await
    }

    /// `PATCH /channels/{type}/{id}` with `set` and `unset`. Safe to repeat.
    pub async fn update_channel_partial(
        &self,
        cid: &Cid,
        set: Map<String, Value>,
        unset: &[&str],
    ) -> Result<Answer<UpdatedChannel>, StreamError> {
        let body = json!({ "set": set, "unset": unset });
        self.call("UpdateChannelPartial", Method::PATCH, &channel_path(cid, ""), &[], Some(&body)).await
    }

    /// `DELETE /channels/{type}/{id}` (soft unless `hard`); `None` when Stream says the channel
    /// does not exist, which is what a repeated delete finds.
    pub async fn delete_channel(&self, cid: &Cid, hard: bool) -> Result<Option<Channel>, StreamError> {
        let query = [("hard_delete", hard.to_string())];
        let a: Result<Answer<OneChannel>, _> =
            self.call::<Value, _>("DeleteChannel", Method::DELETE, &channel_path(cid, ""), &query, None).await;
        Ok(gone_is_done(a)?.map(|a| a.body.channel))
    }

    /// `POST /channels/delete` (1 to 100 cids): returns the task id. What the task did to each
    /// cid must be confirmed (see [`Client::delete_all_channels`]).
    pub async fn delete_channels(&self, cids: &[Cid], hard: bool) -> Result<String, StreamError> {
        let body = json!({ "cids": cids, "hard_delete": hard });
        let a: Answer<TaskId> = self.call("DeleteChannels", Method::POST, "/channels/delete", &[], Some(&body)).await?;
        Ok(a.body.task_id)
    }

    /// `POST /channels/{type}/{id}/hide` for `user`. Safe to repeat.
    pub async fn hide_channel(&self, cid: &Cid, user: &StreamUserId, clear_history: bool) -> Result<(), StreamError> {
        let body = json!({ "user_id": user, "clear_history": clear_history });
        self.call::<_, IgnoredAny>("HideChannel", Method::POST, &channel_path(cid, "/hide"), &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// `POST /channels/{type}/{id}/read`: `user` has read up to `message` (or up to now). Safe
    /// to repeat.
    pub async fn mark_read(&self, cid: &Cid, user: &StreamUserId, message: Option<&str>) -> Result<(), StreamError> {
        let mut body = json!({ "user_id": user });
        if let Some(message) = message {
            body["message_id"] = json!(message);
        }
        self.call::<_, IgnoredAny>("MarkRead", Method::POST, &channel_path(cid, "/read"), &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// `POST /channels/{type}/{id}/show` for `user`. Safe to repeat.
    pub async fn show_channel(&self, cid: &Cid, user: &StreamUserId) -> Result<(), StreamError> {
        let body = json!({ "user_id": user });
        self.call::<_, IgnoredAny>("ShowChannel", Method::POST, &channel_path(cid, "/show"), &[], Some(&body))
            .await
            .map(|_| ())
    }

    /// `POST /channels/{type}/{id}/truncate {"truncated_at"}`: removes the messages sent up to
    /// `until`. The caller fixes the time once, so a repeat removes nothing sent after it.
    pub async fn truncate_channel(&self, cid: &Cid, until: DateTime<Utc>) -> Result<(), StreamError> {
        let body = json!({ "truncated_at": until.to_rfc3339_opts(SecondsFormat::Micros, true) });
        self.call::<_, IgnoredAny>("TruncateChannel", Method::POST, &channel_path(cid, "/truncate"), &[], Some(&body))
            .await
            .map(|_| ())
    }
}
