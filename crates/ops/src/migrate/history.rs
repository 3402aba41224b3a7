//! Copying a channel's conversation into its new channel: every message the new one lacks,
//! thread replies included, oldest first, under a deterministic id (so a repeat never
//! duplicates), sender mapped, with `skip_push`, `skip_enrich_url` and `keep_channel_hidden`.
//! A copy keeps what the original was to its readers: a reply stays in the copy of its thread
//! (shown in the channel where it was), a quote quotes the copy, a private message stays
//! private to the same people (never to more), a silent one stays silent, its HTML and custom
//! fields stay; the original id, time and sender are kept as custom fields too. A copy that Stream would refuse or run as a
//! command is changed so it is taken as text, and every change is listed. A deleted message
//! becomes a deleted placeholder (sent silent, then deleted; nothing of its content is sent).
//! Reactions and pins follow in [`super::marks`]. The import file writes the same copies ([`copy_of`]).

use std::collections::{HashMap, HashSet};

use gymchat_ids::{Cid, StreamUserId};
use gymchat_stream::Client;
use gymchat_stream::model::{Message, NewMessage, SendOptions};
use gymchat_stream::rules::{Breach, MAX_ATTACHMENTS, MAX_MENTIONS, MAX_TEXT_CHARS, check_message, inert_text};
use serde_json::{Value, json};

use super::attachments::rehost;
use super::error::StepError;
use super::marks::{Marks, sync_marks};
use super::notes::{copy_id, is_note};
use super::order::Turn;
use super::plan::spec::ChannelSpec;

/// Kinds of message that are copied; others (ephemeral, error) are not history. A deleted one
/// is copied as a deleted placeholder.
const COPIED_KINDS: &[&str] = &["regular", "system", "reply", "deleted", ""];
/// The text of a deleted message's placeholder copy, sent and deleted at once (what the author
/// deleted is never sent again).
const DELETED_TEXT: &str = "This message was deleted.";
/// Custom fields every copy carries, kept when the rest must go (too large).
const PROVENANCE: &[&str] = &["original_id", "original_created_at", "original_user_id", "gymchat_copy"];

/// The result of bringing the new channel's conversation up to the old one's.
pub(crate) struct Synced {
    /// Messages of the old channel to be copied (thread replies included).
    pub expected: usize,
    /// Attachment files uploaded to the new channel now (`--rehost-attachments`).
    pub rehosted: usize,
    /// Sent now.
    pub sent: usize,
    /// Still missing (when not sending): messages, reactions and pins.
    pub missing: usize,
    /// Reactions and pins carried now.
    pub marks: Marks,
    /// Copies that had to differ from the original, and why.
    pub altered: Vec<Value>,
}

/// A channel's whole conversation: the messages of its history and the replies of every thread
/// in it (which channel state leaves out unless shown in the channel), each once, oldest first,
/// a thread's first message before its replies.
pub(crate) async fn conversation(client: &Client, cid: &Cid) -> Result<Vec<Message>, StepError> {
    let mut messages = client.channel_history(cid).await?;
    let mut seen: HashSet<String> = messages.iter().map(|m| m.id.clone()).collect();
    let threads: Vec<String> =
        messages.iter().filter(|m| m.parent_id().is_none() && m.reply_count() > 0).map(|m| m.id.clone()).collect();
    for parent in threads {
        for reply in client.message_replies(&parent).await? {
            if seen.insert(reply.id.clone()) {
                messages.push(reply);
            }
        }
    }
    messages.sort_by_key(|m| (m.created_at, m.parent_id().is_some()));
    Ok(messages)
}

/// The old channel's messages that are history (the migration's notes and non-messages left
/// out), thread replies included, oldest first.
pub(crate) async fn originals(client: &Client, old: &Cid) -> Result<Vec<Message>, StepError> {
    let all = conversation(client, old).await?;
    Ok(all.into_iter().filter(|m| !is_note(&m.id) && COPIED_KINDS.contains(&m.kind.as_str())).collect())
}

/// Sends, oldest first, every message of `old` whose copy `new` lacks, then the reactions and
/// pins the copies lack (or, with `send` false, counts what is missing). With a `turn`, the
/// last copy waits for the channel's turn in the gym's channel-list order ([`super::order`]).
pub(crate) async fn sync_history(
    client: &Client,
    spec: &ChannelSpec,
    old: &Cid,
    new: &Cid,
    send: bool,
    turn: Option<Turn<'_>>,
) -> Result<Synced, StepError> {
    let originals = originals(client, old).await?;
    let copied: HashSet<&str> = originals.iter().map(|m| m.id.as_str()).collect();
    let present: HashMap<String, Message> =
        conversation(client, new).await?.into_iter().map(|m| (m.id.clone(), m)).collect();
    let mut synced = Synced {
        expected: originals.len(),
        rehosted: 0,
        sent: 0,
        missing: 0,
        marks: Marks::default(),
        altered: Vec::new(),
    };
    let last = originals.len().checked_sub(1);
    for (at, original) in originals.iter().enumerate() {
        if present.contains_key(&copy_id(new, &original.id)) {
            continue;
        }
        if !send {
            synced.missing += 1;
            continue;
        }
        let (mut message, changes) = copy_of(spec, original, new, &copied)?;
        if spec.rehost_attachments {
            synced.rehosted += rehost(client, new, &mut message).await?;
        }
        if !changes.is_empty() {
            synced.altered.push(json!({ "original_id": original.id, "copy_id": message.id, "changes": changes }));
        }
        if Some(at) == last
            && let Some(turn) = &turn
        {
            turn.wait().await;
        }
        client.send_message(new, &message, SendOptions::copy()).await?;
        synced.sent += 1;
    }
    // The last copy is sent (now or before), or there is none: the next channel may go.
    if let Some(turn) = &turn {
        turn.pass();
    }
    // Placeholders of deleted messages are deleted in their turn (Stream keeps them as such).
    for original in originals.iter().filter(|m| m.kind == "deleted") {
        let id = copy_id(new, &original.id);
        if present.get(&id).is_some_and(|copy| copy.kind == "deleted") {
            continue;
        }
        if send {
            client.delete_message(&id, false).await?;
        } else if present.contains_key(&id) {
            synced.missing += 1;
        }
    }
    synced.marks = sync_marks(client, spec, &originals, new, &present, send).await?;
    synced.missing += synced.marks.missing;
    Ok(synced)
}

/// The copy of a message in `new` (`copied`: the ids of the originals that are copied, so a
/// reply or a quote can point at its copy), and what had to change for Stream to take it
/// without running it or showing it to anyone the original was hidden from.
pub(crate) fn copy_of(
    spec: &ChannelSpec,
    original: &Message,
    new: &Cid,
    copied: &HashSet<&str>,
) -> Result<(NewMessage, Vec<String>), StepError> {
    // A sender the plan saw write in the channel, else a member (a thread's reply or a late
    // message); someone without a person: the gym's bot.
    let sender_old = original.user.as_ref().map(|u| u.id.to_string()).unwrap_or_default();
    let sender = spec
        .senders
        .get(&sender_old)
        .or_else(|| spec.member_targets.get(&sender_old))
        .cloned()
        .unwrap_or_else(|| spec.gym_bot());
    let mut message = NewMessage::new(copy_id(new, &original.id), StreamUserId::parse(&sender)?, original.text.clone());
    let mut changes = Vec::new();
    if original.kind == "deleted" {
        return Ok((placeholder(spec, original, message, new, copied, &sender_old), changes));
    }
    if original.kind == "system" {
        message = message.system();
    }
    message.custom = original.custom_fields();
    message.html = original.html().map(str::to_owned);
    if let Some(Value::Array(a)) = original.custom.get("attachments") {
        message.attachments = a.clone();
    }
    message.mentioned_users = original
        .mentioned_user_ids()
        .into_iter()
        .filter_map(|u| spec.named_target(u))
        .filter_map(|u| StreamUserId::parse(u).ok())
        .collect();
    match original.parent_id() {
        Some(parent) if copied.contains(parent) => {
            message.parent_id = Some(copy_id(new, parent));
            message.show_in_channel = original.shown_in_channel();
        }
        Some(parent) => {
            changes.push(format!("its thread's first message {parent} is not copied: shown in the channel"))
        }
        None => {}
    }
    match original.quoted_message_id() {
        Some(quoted) if copied.contains(quoted) => message.quoted_message_id = Some(copy_id(new, quoted)),
        Some(quoted) => changes.push(format!("the quoted message {quoted} is not copied: quote left out")),
        None => {}
    }
    restrict(spec, original, &mut message, &mut changes);
    // A silent original raised no unread count; its copy must not either.
    message.silent = original.silent();
    provenance(&mut message, original, &sender_old);
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

/// The original id, time and sender, as custom fields of the copy.
fn provenance(message: &mut NewMessage, original: &Message, sender_old: &str) {
    message.custom.insert("original_id".into(), json!(original.id));
    message.custom.insert("original_created_at".into(), json!(original.created_at));
    message.custom.insert("original_user_id".into(), json!(sender_old));
    message.custom.insert("gymchat_copy".into(), json!(true));
}

/// The copy of a deleted message: a silent placeholder in the same place (its thread, its
/// readers), with nothing of what was deleted, to be deleted once sent.
fn placeholder(
    spec: &ChannelSpec,
    original: &Message,
    mut message: NewMessage,
    new: &Cid,
    copied: &HashSet<&str>,
    sender_old: &str,
) -> NewMessage {
    message.text = DELETED_TEXT.to_owned();
    message.silent = true;
    if let Some(parent) = original.parent_id().filter(|p| copied.contains(p)) {
        message.parent_id = Some(copy_id(new, parent));
        message.show_in_channel = original.shown_in_channel();
    }
    restrict(spec, original, &mut message, &mut Vec::new());
    provenance(&mut message, original, sender_old);
    message
}

/// A private original stays private to the same people under their new ids. Someone without a
/// person is left out (the copy is seen by fewer, never by more); when nobody is left, the copy
/// is restricted to its sender alone rather than shown to everyone.
fn restrict(spec: &ChannelSpec, original: &Message, message: &mut NewMessage, changes: &mut Vec<String>) {
    let readers = original.restricted_visibility();
    if readers.is_empty() {
        return;
    }
    let mut mapped: Vec<StreamUserId> = Vec::new();
    for reader in &readers {
        match spec.person_target(reader).and_then(|t| StreamUserId::parse(t).ok()) {
            Some(target) if !mapped.contains(&target) => mapped.push(target),
            Some(_) => {}
            None => changes.push(format!("private to {reader}, who has no person: left out of who sees it")),
        }
    }
    if mapped.is_empty() {
        mapped.push(message.user_id.clone());
    }
    message.restricted_visibility = mapped;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ChannelSpec {
        serde_json::from_value(json!({
            "room_id": 638, "kind": "direct", "old_cid": "messaging:a", "new_cid": "messaging:b",
            "members": ["gym_4_user_10", "gym_4_user_8"], "old_members": ["user_10", "user_8"],
            "dropped_members": [], "team": "gym_4", "created_by": "gym_4_user_10",
            "custom": { "gym_id": "4" }, "old_frozen": false, "frozen_after": false, "messages": 3,
            "senders": { "user_10": "gym_4_user_10", "ghost": "gym_4_bot" }, "old_data": {},
            "note": null, "member_targets": { "user_10": "gym_4_user_10", "user_8": "gym_4_user_8" },
            "mentioned": { "user_11": "gym_4_user_11" },
        }))
        .unwrap()
    }

    fn original(fields: Value) -> Message {
        let mut m = json!({ "id": "o1", "text": "hi", "type": "regular", "user": { "id": "user_10" },
            "created_at": "2025-11-01T12:00:00Z" });
        m.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        serde_json::from_value(m).unwrap()
    }

    fn copy(fields: Value, copied: &[&str]) -> (NewMessage, Vec<String>) {
        let new = Cid::parse("messaging:b").unwrap();
        copy_of(&spec(), &original(fields), &new, &copied.iter().copied().collect()).unwrap()
    }

    #[test]
    fn a_private_message_is_never_shown_to_more_people() {
        let (m, changes) = copy(json!({ "restricted_visibility": ["user_8", "ghost"] }), &[]);
        assert_eq!(m.restricted_visibility, vec![StreamUserId::parse("gym_4_user_8").unwrap()]);
        assert!(changes.iter().any(|c| c.contains("ghost")), "{changes:?}");
        let (alone, _) = copy(json!({ "restricted_visibility": ["ghost"] }), &[]);
        assert_eq!(alone.restricted_visibility, vec![alone.user_id.clone()], "nobody left: its sender only");
        assert!(copy(json!({}), &[]).0.restricted_visibility.is_empty());
    }

    #[test]
    fn a_mention_reaches_every_gym_member_named_in_or_out_of_the_room() {
        let mentions = json!({ "mentioned_users": [{ "id": "user_11" }, { "id": "user_8" }, "stranger"] });
        let (m, _) = copy(mentions, &[]);
        let targets: Vec<&str> = m.mentioned_users.iter().map(StreamUserId::as_str).collect();
        assert_eq!(targets, ["gym_4_user_11", "gym_4_user_8"], "someone of no gym is left out");
    }

    #[test]
    fn threads_and_quotes_point_at_copies_or_are_listed() {
        let new = Cid::parse("messaging:b").unwrap();
        let fields = json!({ "parent_id": "p", "show_in_channel": true, "quoted_message_id": "q" });
        let (m, changes) = copy(fields.clone(), &["p", "q"]);
        assert_eq!(m.parent_id, Some(copy_id(&new, "p")));
        assert!(m.show_in_channel);
        assert_eq!(m.quoted_message_id, Some(copy_id(&new, "q")));
        assert!(changes.is_empty(), "{changes:?}");
        let (orphan, changes) = copy(fields, &[]);
        assert_eq!((orphan.parent_id, orphan.quoted_message_id), (None, None));
        assert_eq!(changes.len(), 2, "{changes:?}");
    }

    #[test]
    fn a_reply_by_a_member_who_never_wrote_in_the_channel_keeps_its_author() {
        let (m, _) = copy(json!({ "user": { "id": "user_8" }, "parent_id": "p" }), &["p"]);
        assert_eq!(m.user_id.as_str(), "gym_4_user_8");
        let (stranger, _) = copy(json!({ "user": { "id": "user_99" } }), &[]);
        assert_eq!(stranger.user_id.as_str(), "gym_4_bot", "no person: the gym's bot");
    }

    #[test]
    fn custom_fields_html_and_silence_are_kept_and_streams_own_fields_are_not() {
        let fields = json!({ "html": "<p>hi</p>", "silent": true, "workout": "legs", "reply_count": 3,
            "latest_reactions": [], "pinned": false });
        let (m, _) = copy(fields, &[]);
        assert_eq!(m.html.as_deref(), Some("<p>hi</p>"));
        assert!(m.silent);
        assert_eq!(m.custom["workout"], "legs");
        for owned in ["reply_count", "latest_reactions", "pinned", "html", "silent"] {
            assert!(!m.custom.contains_key(owned), "{owned} is Stream's");
        }
        assert_eq!(m.custom["original_id"], "o1");
    }
}
