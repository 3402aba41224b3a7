//! `--history import-file` and `import`: the history of the moved channels as a file for
//! Stream's import service, which keeps the original timestamps (a live copy cannot: Stream sets
//! `created_at` on send). JSON Lines of `{"type", "data"}` (STREAM_API.md, "Import"), items in the order Stream's
//! import wants them: the target users (with their teams), the new channels (team, creator,
//! `frozen` and the old channel's `created_at`, always sent since an upsert resets what it
//! omits), their members (role, `created_at`, `last_read` mapped from the old channel's read
//! state so unread counts stay what they were, `hide_channel` for those who hid the room and
//! `hide_messages_before` for those of them whose history Stream shows cleared), then
//! every message of the old channels, thread replies included, oldest first per channel, sender
//! mapped (`mentioned_users_ids`), under the same deterministic ids and with the same changes a
//! live copy would make (commands made inert, long texts cut, threads, quotes, private readers,
//! `silent` and live pins kept), and last the reactions, each by its reactor's new id with its
//! own time. The file is written to a temporary name and renamed, so it is whole or absent, and
//! a resumed run writes it again.
//!
//! - `import-file` writes it once the channels have moved, for an operator to upload: the old
//!   channels are frozen by then, so nothing is missing.
//! - `import` ([`import_through_stream`]) writes it for the channels made and waiting in
//!   `copying`, uploads it (`POST /import_urls`, the upload), imports it (`POST /imports`, mode
//!   `upsert`: the ids are deterministic, so a repeated import changes nothing) and waits for
//!   Stream to end it; the new channels stay unfrozen for the rest of the run, and the rooms
//!   switch only after it completed (what was written to an old channel meanwhile is copied
//!   after it froze).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId};
use gymchat_store::Store;
use gymchat_stream::Client;
use gymchat_stream::model::{Message, NewMessage};
use serde_json::{Map, Value, json};

use gymchat_store::{ItemKind, ItemState, MigrationItem};
use gymchat_stream::ImportTask;

use super::attachments::rehost;
use super::carry::{cleared_in_stream, cut_between};
use super::error::{MigrateError, StepError};
use super::history::{copy_of, originals};
use super::marks::live_pin;
use super::options::History;
use super::plan::spec::{ChannelSpec, UserSpec};
use super::report::{ImportFile, Progress};
use super::run::Runner;

fn line(out: &mut impl Write, kind: &str, item: Value, counts: &mut BTreeMap<String, usize>) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &json!({ "type": kind, "data": item }))?;
    out.write_all(b"\n")?;
    *counts.entry(kind.to_owned()).or_default() += 1;
    Ok(())
}

/// How long the upload of an import file may take.
const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// The channel items a file of this mode holds: with `import`, those waiting for it; with
/// `import-file`, those moved.
fn holds(history: History, item: &MigrationItem) -> bool {
    let waiting = if history == History::Import { ItemState::Copying } else { ItemState::Done };
    item.kind == ItemKind::Channel && item.state == waiting
}

/// `--history import`: when channels wait for it, writes their file to `path`, imports it
/// through Stream's import service and waits until it ends or `deadline` passes. `None` when no
/// channel waits (a resumed run whose import completed).
pub(crate) async fn import_through_stream(
    runner: &Runner,
    path: &Path,
    deadline: std::time::Duration,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Option<ImportFile>, MigrateError> {
    let items = runner.store.session().await?.migration_items(&runner.run_id).await?;
    if !items.iter().any(|i| holds(History::Import, i)) {
        return Ok(None);
    }
    let lines = write(&runner.store, &runner.client, &runner.run_id, path, History::Import)
        .await
        .map_err(|e| MigrateError::ImportFile(format!("{}: {e}", path.display())))?;
    let file = std::fs::read(path).map_err(|e| MigrateError::ImportFile(format!("{}: {e}", path.display())))?;
    let name = path.file_name().map_or_else(|| "import.jsonl".into(), |n| n.to_string_lossy().into_owned());
    let stream = |e: gymchat_stream::StreamError| MigrateError::Import(e.to_string());
    let client = &runner.client;
    let url = client.create_import_url(&name).await.map_err(stream)?;
    client.upload_import(&url, file.into(), UPLOAD_TIMEOUT).await.map_err(stream)?;
    let task = client.create_import(&url.path, true).await.map_err(stream)?;
    let tell = |t: &ImportTask| progress(Progress::Import { id: t.id.clone(), state: t.state.clone() });
    tell(&task);
    let task = client.wait_for_import(&task.id, deadline, &tell).await.map_err(stream)?;
    if task.completed() {
        let path = path.display().to_string();
        return Ok(Some(ImportFile { path, lines, import_id: Some(task.id) }));
    }
    Err(MigrateError::Import(if task.ended() {
        format!("import {} ended {}: {}", task.id, task.state, task.reasons().join("; "))
    } else {
        format!(
            "import {} is still {} after {} s; apply again to import once more",
            task.id,
            task.state,
            deadline.as_secs()
        )
    }))
}

/// Writes the run's import file for `history` (`import-file` or `import`); returns the lines
/// per item type.
pub(crate) async fn write(
    store: &Store,
    client: &Client,
    run_id: &str,
    path: &Path,
    history: History,
) -> Result<BTreeMap<String, usize>, StepError> {
    let items = store.session().await?.migration_items(run_id).await?;
    let users: Vec<UserSpec> =
        items.iter().filter(|i| i.kind == ItemKind::User).filter_map(|i| serde_json::from_str(&i.spec).ok()).collect();
    let channels: Vec<ChannelSpec> =
        items.iter().filter(|i| holds(history, i)).filter_map(|i| serde_json::from_str(&i.spec).ok()).collect();
    let tmp = path.with_extension("jsonl.partial");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut counts = BTreeMap::new();

    for u in &users {
        let mut item = Map::new();
        item.insert("id".into(), json!(u.id));
        if let Some(name) = &u.name {
            item.insert("name".into(), json!(name));
        }
        if let Some(image) = &u.image {
            item.insert("image".into(), json!(image));
        }
        item.insert("teams".into(), json!([u.team]));
        line(&mut out, "user", Value::Object(item), &mut counts)?;
    }
    // What each old channel was when it moved: its creation time, its members' read state and
    // who hid the room, and its history.
    let mut olds = Vec::with_capacity(channels.len());
    for c in &channels {
        let old = Cid::parse(&c.old_cid)?;
        let state = client.get_or_create_channel(&old, None, 0, None).await?.body;
        let hid = store.session().await?.room_hidden_by(RoomId::new(c.room_id)?).await?;
        let gym = GymId::new(c.gym_id()?)?;
        let hid: BTreeSet<String> =
            hid.rows.into_iter().map(|h| StreamUserId::for_member(gym, h.user_id).to_string()).collect();
        let originals = originals(client, &old).await?;
        // Who cleared their history (any member: one who showed the room again has no hidden
        // row), and from when on they see it again (original times).
        let members: Vec<StreamUserId> =
            c.member_targets.values().filter_map(|t| StreamUserId::parse(t).ok()).collect();
        let cleared = cleared_in_stream(client, c, &old, &originals, members.iter()).await?;
        let cleared: BTreeMap<String, DateTime<Utc>> = cleared
            .into_iter()
            .map(|(who, at)| {
                let from = cut_between(at, originals.iter().map(|m| m.created_at).filter(|t| *t > at).min());
                (who.to_string(), from)
            })
            .collect();
        olds.push((state, (hid, cleared), originals));
    }
    for (c, (state, _, _)) in channels.iter().zip(&olds) {
        let new = Cid::parse(&c.new_cid)?;
        let mut item = c.custom.clone();
        item.insert("id".into(), json!(new.id()));
        item.insert("type".into(), json!(new.channel_type()));
        item.insert("created_by".into(), json!(c.created_by));
        item.insert("team".into(), json!(c.team));
        // With `import` the run freezes the new channel itself at its end: a frozen channel
        // would refuse the reactions of what is copied after the import.
        item.insert("frozen".into(), json!(history == History::ImportFile && c.frozen_after));
        item.insert("created_at".into(), json!(state.channel.created_at));
        line(&mut out, "channel", Value::Object(item), &mut counts)?;
    }
    for (c, (state, (hid, cleared), originals)) in channels.iter().zip(&olds) {
        let new = Cid::parse(&c.new_cid)?;
        let last_read: BTreeMap<&str, DateTime<Utc>> = c
            .member_targets
            .iter()
            .filter_map(|(old, target)| {
                let read = state.read.iter().find(|r| r.user.id.as_str() == old);
                // No read state (past the first hundred): everything read, as the live copy does.
                let at = read.map_or_else(|| originals.last().map(|m| m.created_at), |r| Some(r.last_read))?;
                Some((target.as_str(), at))
            })
            .collect();
        for m in &c.members {
            let mut item = Map::new();
            item.insert("channel_type".into(), json!(new.channel_type()));
            item.insert("channel_id".into(), json!(new.id()));
            item.insert("user_id".into(), json!(m));
            item.insert("channel_role".into(), json!(c.member_roles.get(m).map_or("channel_member", String::as_str)));
            item.insert("created_at".into(), json!(state.channel.created_at));
            if let Some(at) = last_read.get(m.as_str()) {
                item.insert("last_read".into(), json!(at));
            }
            if hid.contains(m) {
                item.insert("hide_channel".into(), json!(true));
            }
            // The history they cleared stays hidden from them.
            if let Some(at) = cleared.get(m) {
                item.insert("hide_messages_before".into(), json!(at));
            }
            line(&mut out, "member", Value::Object(item), &mut counts)?;
        }
    }
    let mut reactions = Vec::new();
    for (c, (_, _, originals)) in channels.iter().zip(&olds) {
        let new = Cid::parse(&c.new_cid)?;
        let copied: HashSet<&str> = originals.iter().map(|m| m.id.as_str()).collect();
        for original in originals {
            let (mut message, _) = copy_of(c, original, &new, &copied)?;
            // The import wants public URLs: a file on the old channel's CDN is uploaded again.
            if c.rehost_attachments {
                rehost(client, &new, &mut message).await?;
            }
            line(&mut out, "message", message_item(&message, original, &new, c), &mut counts)?;
            if original.reaction_total() > 0 {
                for r in client.message_reactions(&original.id).await? {
                    // A reaction by someone without a person would be someone else's: left out.
                    if let Some(target) = c.person_target(r.user_id.as_str()) {
                        let mut item = r.custom.clone();
                        item.retain(|k, _| !["message_id", "user", "updated_at"].contains(&k.as_str()));
                        item.insert("message_id".into(), json!(message.id));
                        item.insert("type".into(), json!(r.kind));
                        item.insert("user_id".into(), json!(target));
                        item.insert("score".into(), json!(r.score));
                        item.insert("created_at".into(), json!(r.created_at));
                        reactions.push(Value::Object(item));
                    }
                }
            }
        }
    }
    // Reactions come last: Stream's import wants every message before them.
    for item in reactions {
        line(&mut out, "reaction", item, &mut counts)?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path)?;
    Ok(counts)
}

/// A copy as an import `message` item: the original's time, the sender as `user`, mentions as
/// `mentioned_users_ids`, a reply as type `reply` with its thread, a live pin as the three
/// fields Stream's import wants together, and a deleted message as type `deleted` with
/// `deleted_at` and no text.
fn message_item(message: &NewMessage, original: &Message, new: &Cid, c: &ChannelSpec) -> Value {
    let mut item = message.custom.clone();
    item.insert("id".into(), json!(message.id));
    item.insert("channel_type".into(), json!(new.channel_type()));
    item.insert("channel_id".into(), json!(new.id()));
    item.insert("user".into(), json!(message.user_id));
    item.insert("text".into(), json!(message.text));
    let kind = match (original.kind.as_str(), &message.parent_id) {
        ("deleted", _) => "deleted",
        (_, Some(_)) => "reply",
        _ => message.kind.as_deref().unwrap_or("regular"),
    };
    item.insert("type".into(), json!(kind));
    item.insert("created_at".into(), json!(original.created_at));
    if let Some(html) = &message.html {
        item.insert("html".into(), json!(html));
    }
    if !message.attachments.is_empty() {
        item.insert("attachments".into(), json!(message.attachments));
    }
    if !message.mentioned_users.is_empty() {
        item.insert("mentioned_users_ids".into(), json!(message.mentioned_users));
    }
    if let Some(parent) = &message.parent_id {
        item.insert("parent_id".into(), json!(parent));
        item.insert("show_in_channel".into(), json!(message.show_in_channel));
    }
    if let Some(quoted) = &message.quoted_message_id {
        item.insert("quoted_message_id".into(), json!(quoted));
    }
    if !message.restricted_visibility.is_empty() {
        item.insert("restricted_visibility".into(), json!(message.restricted_visibility));
    }
    if message.silent {
        item.insert("silent".into(), json!(true));
    }
    if let Some(pinner) = live_pin(original) {
        let by = c.person_target(pinner).map_or_else(|| c.gym_bot(), str::to_owned);
        let at = original.custom.get("pinned_at").cloned().unwrap_or_else(|| json!(original.created_at));
        item.insert("pinned_at".into(), at);
        item.insert("pinned_by_id".into(), json!(by));
        item.insert("pin_expires".into(), json!(original.pin_expires()));
    }
    if kind == "deleted" {
        // Stream's import keeps a deleted message as its placeholder, with nothing of its text.
        for field in ["silent", "pinned_at", "pinned_by_id", "pin_expires"] {
            item.remove(field);
        }
        item.insert("text".into(), json!(""));
        let at = original.custom.get("deleted_at").cloned().unwrap_or_else(|| json!(original.created_at));
        item.insert("deleted_at".into(), at);
    }
    Value::Object(item)
}
