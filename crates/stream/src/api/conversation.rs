//! A message's conversation beyond its text: its thread's replies (`GET /messages/{id}/replies`,
//! paged back), its reactions (`GET /messages/{id}/reactions`, `POST /messages/{id}/reaction`,
//! `DELETE /messages/{id}/reaction/{type}`), partial updates (`PUT /messages/{id}`), which pin and unpin, and deletion
//! (`DELETE /messages/{id}`).

use reqwest::Method;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use super::shared::{gone_is_done, segment};
use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::helpers::paging::page_back;
use crate::limits::MESSAGE_PAGE;
use crate::model::{Message, NewReaction, Reaction};

/// Reactions per page (Stream's documented maximum).
const REACTION_PAGE: u32 = 300;
/// Stream's largest reaction offset.
const MAX_REACTION_OFFSET: u32 = 1_000;

#[derive(Deserialize)]
struct Messages {
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Reactions {
    #[serde(default)]
    reactions: Vec<Reaction>,
}

impl Client {
    /// Every reply of a thread, oldest first, paging back 300 at a time. A full page whose
    /// oldest reply was seen already ends the read with an error.
    pub async fn message_replies(&self, parent: &str) -> Result<Vec<Message>, StreamError> {
        let path = format!("/messages/{}/replies", segment(parent));
        page_back("GetReplies", &format!("the replies of {parent}"), |before| {
            let path = &path;
            async move {
                let mut query = vec![("limit", MESSAGE_PAGE.to_string())];
                if let Some(id) = before {
                    query.push(("id_lt", id));
                }
                let answer = self.call::<Value, Messages>("GetReplies", Method::GET, path, &query, None).await?;
                Ok(answer.body.messages)
            }
        })
        .await
    }

    /// Every reaction to a message, oldest first (Stream's offset reaches 1,000 reactions: more
    /// is an [`ErrorKind::Incomplete`] error rather than a silent cut).
    pub async fn message_reactions(&self, id: &str) -> Result<Vec<Reaction>, StreamError> {
        let path = format!("/messages/{}/reactions", segment(id));
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let query = [("limit", REACTION_PAGE.to_string()), ("offset", offset.to_string())];
            let page =
                self.call::<Value, Reactions>("GetReactions", Method::GET, &path, &query, None).await?.body.reactions;
            let len = page.len() as u32;
            all.extend(page);
            if len < REACTION_PAGE {
                return Ok(all);
            }
            offset += len;
            if offset > MAX_REACTION_OFFSET {
                let why = format!("message {id} has more reactions than Stream's paging reaches ({offset} read)");
                return Err(StreamError::new("GetReactions", ErrorKind::Incomplete(why)));
            }
        }
    }

    /// `POST /messages/{id}/reaction`. One reaction per user and type: a repeat replaces it, so
    /// this is safe to repeat.
    pub async fn send_reaction(
        &self,
        message: &str,
        reaction: &NewReaction,
        skip_push: bool,
    ) -> Result<(), StreamError> {
        let path = format!("/messages/{}/reaction", segment(message));
        let body = json!({ "reaction": reaction, "skip_push": skip_push });
        self.call::<_, IgnoredAny>("SendReaction", Method::POST, &path, &[], Some(&body)).await.map(|_| ())
    }

    /// `PUT /messages/{id}` with `set` and `unset`, acting as `user` (who pins, when it pins).
    /// Safe to repeat.
    pub async fn update_message_partial(
        &self,
        message: &str,
        user: &gymchat_ids::StreamUserId,
        set: Map<String, Value>,
        unset: &[&str],
    ) -> Result<(), StreamError> {
        let path = format!("/messages/{}", segment(message));
        let body = json!({ "set": set, "unset": unset, "user_id": user });
        self.call::<_, IgnoredAny>("UpdateMessagePartial", Method::PUT, &path, &[], Some(&body)).await.map(|_| ())
    }

    /// `DELETE /messages/{id}`: soft (a `deleted` placeholder stays in the channel) unless
    /// `hard`. Safe to repeat: a message already gone counts as deleted.
    pub async fn delete_message(&self, id: &str, hard: bool) -> Result<(), StreamError> {
        let path = format!("/messages/{}", segment(id));
        let query = [("hard", hard.to_string())];
        let answer = self.call::<Value, IgnoredAny>("DeleteMessage", Method::DELETE, &path, &query, None).await;
        gone_is_done(answer).map(|_| ())
    }

    /// `DELETE /messages/{id}/reaction/{type}?user_id=`: `user`'s reaction of that type, gone.
    /// Safe to repeat.
    pub async fn delete_reaction(
        &self,
        message: &str,
        kind: &str,
        user: &gymchat_ids::StreamUserId,
    ) -> Result<(), StreamError> {
        let path = format!("/messages/{}/reaction/{}", segment(message), segment(kind));
        let query = [("user_id", user.to_string())];
        let answer = self.call::<Value, IgnoredAny>("DeleteReaction", Method::DELETE, &path, &query, None).await;
        gone_is_done(answer).map(|_| ())
    }
}
