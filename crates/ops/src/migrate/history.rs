//! Copying a channel's history into its new channel: every message the new one lacks, oldest
//! first, under a deterministic id (so a repeat never duplicates), sender mapped, with
//! `skip_push`, `skip_enrich_url` and `keep_channel_hidden`, `silent` where the original was, the
//! original id, time and sender kept as custom fields. A
//! copy that Stream would refuse or run as a command is changed so it is taken as text, and the
//! change is listed. The import file writes the same copies ([`copy_of`]).

use std::collections::HashSet;

use gymchat_ids::{Cid, StreamUserId};
use gymchat_stream::Client;
use gymchat_stream::model::{Message, NewMessage, SendOptions};
use gymchat_stream::rules::{Breach, MAX_ATTACHMENTS, MAX_MENTIONS, MAX_TEXT_CHARS, check_message, inert_text};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::StepError;
use super::notes::is_note;
use super::plan::spec::ChannelSpec;

/// Kinds of message that are copied; others (deleted, ephemeral, error) are not history.
const COPIED_KINDS: &[&str] = &["regular", "system", "reply", ""];
/// Custom fields every copy carries, kept when the rest must go (too large).
const PROVENANCE: &[&str] = &["original_id", "original_created_at", "original_user_id", "gymchat_copy"];

/// The result of bringing the new channel's history up to the old one's.
pub(crate) struct Synced {
    /// Messages of the old channel to be copied.
    pub expected: usize,
    /// Sent now.
    pub sent: usize,
    /// Still missing (when not sending).
    pub missing: usize,
    /// Copies that had to differ from the original, and why.
    pub altered: Vec<Value>,
}

/// The id of a message's copy: the same for every attempt, unique per channel and message.
pub(crate) fn copy_id(new: &Cid, original: &str) -> String {
    let digest = Sha256::digest(format!("{new}\n{original}").as_bytes());
    format!("gm-{}", &hex::encode(digest)[..40])
}

/// The old channel's messages that are history (the migration's notes and non-messages left
/// out), oldest first.
pub(crate) async fn originals(client: &Client, old: &Cid) -> Result<Vec<Message>, StepError> {
    Ok(client
        .channel_history(old)
        .await?
        .into_iter()
        .filter(|m| !is_note(&m.id) && COPIED_KINDS.contains(&m.kind.as_str()))
        .collect())
}

/// Sends, oldest first, every message of `old` whose copy `new` lacks (or, with `send` false,
/// counts them).
pub(crate) async fn sync_history(
    client: &Client,
    spec: &ChannelSpec,
    old: &Cid,
    new: &Cid,
    send: bool,
) -> Result<Synced, StepError> {
    let originals = originals(client, old).await?;
    let present: HashSet<String> = client.channel_history(new).await?.into_iter().map(|m| m.id).collect();
    let mut synced = Synced { expected: originals.len(), sent: 0, missing: 0, altered: Vec::new() };
    for original in &originals {
        let id = copy_id(new, &original.id);
        if present.contains(&id) {
            continue;
        }
        if !send {
            synced.missing += 1;
            continue;
        }
        let (message, changes) = copy_of(spec, original, id)?;
        if !changes.is_empty() {
            synced.altered.push(json!({ "original_id": original.id, "copy_id": message.id, "changes": changes }));
        }
        client.send_message(new, &message, SendOptions::copy()).await?;
        synced.sent += 1;
    }
    Ok(synced)
}

/// The copy of a message, and what had to change for Stream to take it without running it.
pub(crate) fn copy_of(
    spec: &ChannelSpec,
    original: &Message,
    id: String,
) -> Result<(NewMessage, Vec<String>), StepError> {
    // A sender the plan did not see (a late message) or who has no person: the gym's bot.
    let sender_old = original.user.as_ref().map(|u| u.id.to_string()).unwrap_or_default();
    let sender = spec.senders.get(&sender_old).cloned().unwrap_or_else(|| spec.gym_bot());
    let mut message = NewMessage::new(id, StreamUserId::parse(&sender)?, original.text.clone());
    if original.kind == "system" {
        message = message.system();
    }
    if let Some(Value::Array(a)) = original.custom.get("attachments") {
        message.attachments = a.clone();
    }
    if let Some(Value::Array(m)) = original.custom.get("mentioned_users") {
        message.mentioned_users = m
            .iter()
            .filter_map(|u| u.get("id").and_then(Value::as_str).or(u.as_str()))
            .filter_map(|u| spec.senders.get(u))
            .filter_map(|u| StreamUserId::parse(u).ok())
            .collect();
    }
    // A silent original raised no unread count; its copy must not either.
    if original.custom.get("silent").and_then(Value::as_bool) == Some(true) {
        message.custom.insert("silent".into(), json!(true));
    }
    message.custom.insert("original_id".into(), json!(original.id));
    message.custom.insert("original_created_at".into(), json!(original.created_at));
    message.custom.insert("original_user_id".into(), json!(sender_old));
    message.custom.insert("gymchat_copy".into(), json!(true));
    let mut changes = Vec::new();
    for breach in check_message(&message) {
        changes.push(breach.to_string());
        match breach {
            Breach::RunsCommand { .. } => message.text = inert_text(&message.text),
            Breach::TextTooLong { chars } => {
                let kept: String = message.text.chars().take(MAX_TEXT_CHARS - 40).collect();
                message.text = format!("{kept} […cut: the original had {chars} characters]");
            }
            Breach::TooManyAttachments { .. } => message.attachments.truncate(MAX_ATTACHMENTS),
            Breach::TooManyMentions { .. } => message.mentioned_users.truncate(MAX_MENTIONS),
            Breach::CustomTooLarge { .. } => message.custom.retain(|k, _| PROVENANCE.contains(&k.as_str())),
        }
    }
    Ok((message, changes))
}
