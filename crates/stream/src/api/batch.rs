//! `PUT /channels/batch`: one operation on up to 100 channels, run by Stream as a task
//! (STREAM_API.md, "Batch channel updates"), and [`Client::freeze_channels`], which freezes many
//! channels with it and confirms each by reading it back.

use std::collections::HashSet;
use std::time::Duration;

use gymchat_ids::Cid;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::error::StreamError;
use crate::limits::BATCH;
use crate::model::NewMember;

/// The task a batch update started.
#[derive(Deserialize)]
struct Started {
    task_id: String,
}

/// How long a batch's task may run before it is given up on (its channels are then read back
/// and the unconfirmed ones left to the caller).
const TASK_DEADLINE: Duration = Duration::from_secs(120);

impl Client {
    /// `PUT /channels/batch` with `{"cids": {"$in": cids}}` (1 to 100): `operation` (`updateData`
    /// with `data`, `addMembers`, `removeMembers`, `hide`, `show`, … with `members`); answers the
    /// task's id. Every operation sets a state, so a repeat after a lost answer (a second task)
    /// sets it again.
    pub async fn update_channels_batch(
        &self,
        operation: &str,
        cids: &[Cid],
        members: &[NewMember],
        data: Option<&Map<String, Value>>,
    ) -> Result<String, StreamError> {
        let cids: Vec<String> = cids.iter().map(ToString::to_string).collect();
        let mut body = json!({ "operation": operation, "filter": { "cids": { "$in": cids } } });
        if !members.is_empty() {
            body["members"] = json!(members);
        }
        if let Some(data) = data {
            body["data"] = Value::Object(data.clone());
        }
        let started =
            self.call::<_, Started>("UpdateChannelsBatch", Method::PUT, "/channels/batch", &[], Some(&body)).await?;
        Ok(started.body.task_id)
    }

    /// Freezes `cids` with batch updates of at most 100 (each task awaited), then reads them back
    /// (30 a page); answers the cids confirmed frozen. A batch whose task failed or ran out of time
    /// leaves its channels to be confirmed by the read, so the caller knows exactly which are not.
    pub async fn freeze_channels(&self, cids: &[Cid]) -> Result<HashSet<Cid>, StreamError> {
        let mut data = Map::new();
        data.insert("frozen".into(), json!(true));
        for chunk in cids.chunks(BATCH) {
            let task = self.update_channels_batch("updateData", chunk, &[], Some(&data)).await?;
            if let Err(e) = self.wait_for_task(&task, TASK_DEADLINE).await {
                tracing::warn!(error = %e, "a batch freeze did not complete; its channels are read back");
            }
        }
        let read = self.channels_among(cids, false).await?;
        Ok(read.items.into_iter().filter(|c| c.channel.frozen).map(|c| c.channel.cid).collect())
    }
}
