//! Messages: send one (`POST /channels/{type}/{id}/message`) and read one (`GET /messages/{id}`).

use gymchat_ids::Cid;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::shared::{channel_path, gone_is_done, segment};
use crate::client::{Answer, Client};
use crate::error::{ErrorKind, StreamError};
use crate::model::{Message, NewMessage, SendOptions};

#[derive(Deserialize)]
struct OneMessage {
    message: Message,
}

/// What a send achieved.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// The message was created now.
    New(Message),
    /// A message with this id already existed in this channel: an earlier attempt was applied.
    AlreadyExisted,
}

impl Client {
    /// `POST /channels/{type}/{id}/message`.
    ///
    /// The message's own id makes the send safe to repeat. Message ids are unique across the
    /// whole app, so "a message with ID … already exists" is settled by reading that message: in
    /// this channel it is [`Sent::AlreadyExisted`] (an earlier attempt was applied, its answer
    /// lost); anywhere else the id is taken by another message and the send fails with
    /// [`ErrorKind::Conflict`].
    pub async fn send_message(
        &self,
        cid: &Cid,
        message: &NewMessage,
        options: SendOptions,
    ) -> Result<Sent, StreamError> {
        let body = json!({
            "message": message,
            "skip_push": options.skip_push,
            "skip_enrich_url": options.skip_enrich_url,
            "keep_channel_hidden": options.keep_channel_hidden,
        });
        let sent: Result<Answer<OneMessage>, _> =
            self.call("SendMessage", Method::POST, &channel_path(cid, "/message"), &[], Some(&body)).await;
        match sent {
            Ok(a) => Ok(Sent::New(a.body.message)),
            Err(e) if e.already_exists() => {
                self.settle_existing(cid, &message.id, "SendMessage").await.map(|()| Sent::AlreadyExisted)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks that the message `id` that Stream says exists is in `cid`.
    pub(crate) async fn settle_existing(
        &self,
        cid: &Cid,
        id: &str,
        operation: &'static str,
    ) -> Result<(), StreamError> {
        match self.get_message(id).await? {
            Some(existing) if existing.cid.as_ref() == Some(cid) => Ok(()),
            Some(existing) => Err(StreamError::new(
                operation,
                ErrorKind::Conflict(format!(
                    "message id {id} is taken by a message in {}, not in {cid}",
                    existing.cid.map_or_else(|| "an unknown channel".to_owned(), |c| c.to_string())
                )),
            )),
            None => Err(StreamError::new(
                operation,
                ErrorKind::Conflict(format!("Stream says message id {id} exists, but it cannot be read")),
            )),
        }
    }

    /// `GET /messages/{id}`: the message, wherever it is; `None` when Stream says it does not exist.
    pub async fn get_message(&self, id: &str) -> Result<Option<Message>, StreamError> {
        let path = format!("/messages/{}", segment(id));
        let a = self.call::<Value, OneMessage>("GetMessage", Method::GET, &path, &[], None).await;
        Ok(gone_is_done(a)?.map(|a| a.body.message))
    }
}
