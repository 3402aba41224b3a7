//! What each member had of the old channel, carried to the new one once the room has switched
//! (SYSTEM.md §5, "What a member sees does not change"):
//!
//! - read position (with `--history copy`): a member who had read up to a message has read up
//!   to its copy, so their unread count is what it was (copies of silent messages are silent,
//!   and one's own never count); a member Stream gave no read state for (past the first hundred)
//!   has read everything, so no false badge appears; a member who had read nothing reads nothing;
//! - history they cleared (with `--history copy` or `import`): the platform's hide clears the
//!   member's history (`hide` with `clear_history`), and its `chat_member_hidden` row is gone
//!   once they show the room again, so for every member the old channel is read as them (a
//!   user token); what it leaves out of what they could otherwise see was cleared, and they see no copy of it: they are added again with `hide_history_before`
//!   between the last copy they must not see and the first they may, keeping their role, before
//!   their read position is carried;
//! - hidden: a member who hid the room (the platform's `chat_member_hidden`) has the new channel
//!   hidden too (copies and the freezing note are sent with `keep_channel_hidden`, so nothing
//!   showed it meanwhile).
//!
//! Every call is safe to repeat, so a resumed run carries it again without harm.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use gymchat_ids::{Cid, GymId, RoomId, StreamUserId};
use gymchat_stream::Client;
use gymchat_stream::model::{ChannelUpdate, Message, NewMember, ReadState};

use super::error::StepError;
use super::history::{conversation, originals};
use super::notes::copy_id;
use super::options::History;
use super::plan::spec::ChannelSpec;
use super::run::Runner;

/// Carries cleared history, read positions and hiding from `old` to `new` for the new
/// channel's members; `members` are the room's members as the new channel must hold them (a
/// member an interrupted attempt removed to add again is added again).
pub(crate) async fn carry_member_state(
    runner: &Runner,
    spec: &ChannelSpec,
    old: &Cid,
    new: &Cid,
    history: History,
    members: &[String],
) -> Result<(), StepError> {
    let client = &runner.client;
    let intended: HashSet<StreamUserId> = members.iter().filter_map(|m| StreamUserId::parse(m).ok()).collect();
    let mut members: HashSet<StreamUserId> = client.channel_members(new).await?.into_iter().collect();
    let room = RoomId::new(spec.room_id)?;
    let gym = GymId::new(spec.gym_id()?)?;
    let hid: BTreeSet<StreamUserId> = runner
        .store
        .session()
        .await?
        .room_hidden_by(room)
        .await?
        .rows
        .into_iter()
        .map(|h| StreamUserId::for_member(gym, h.user_id))
        .filter(|target| intended.contains(target))
        .collect();
    if history.moves_messages() {
        let originals = originals(client, old).await?;
        // Any member may have cleared it: one who showed the room again has no hidden row.
        let cleared = cleared_in_stream(client, spec, old, &originals, intended.iter()).await?;
        if !cleared.is_empty() {
            clear_history(client, spec, new, &originals, &cleared).await?;
            members.extend(cleared.keys().map(|who| (*who).clone()));
        }
        let reads = client.get_or_create_channel(old, None, 0, None).await?.body.read;
        // A read position is a place in the channel: replies shown only in their thread are
        // not one.
        let in_channel: Vec<Message> =
            originals.into_iter().filter(|m| m.parent_id().is_none() || m.shown_in_channel()).collect();
        for (old_id, target) in &spec.member_targets {
            let target = StreamUserId::parse(target)?;
            if !members.contains(&target) {
                continue;
            }
            let read = reads.iter().find(|r| r.user.id.as_str() == old_id);
            if let Some(upto) = read_up_to(read, &in_channel) {
                client.mark_read(new, &target, Some(&copy_id(new, &upto.id))).await?;
            }
        }
    }
    for target in hid.iter().filter(|t| members.contains(*t)) {
        client.hide_channel(new, target, false).await?;
    }
    Ok(())
}

/// Of these members (target ids), those whose history of `old` Stream shows cleared (the
/// platform's hide clears it, and the row of the hide is gone once they show the room again;
/// a member added with their history hidden is one too), and up to when: read as each of them,
/// the old channel leaves out messages they could otherwise see. A member whose view cannot be
/// read (Stream refuses their token the channel) is left as they are.
pub(crate) async fn cleared_in_stream<'a>(
    client: &Client,
    spec: &ChannelSpec,
    old: &Cid,
    originals: &[Message],
    hid: impl Iterator<Item = &'a StreamUserId>,
) -> Result<BTreeMap<&'a StreamUserId, DateTime<Utc>>, StepError> {
    let mut cleared = BTreeMap::new();
    for target in hid {
        let Some(old_id) = spec.member_targets.iter().find(|(_, t)| *t == target.as_str()).map(|(o, _)| o) else {
            continue;
        };
        let view = match client.as_user(&StreamUserId::parse(old_id)?)?.channel_history(old).await {
            Ok(view) => view,
            Err(e) if e.status() == Some(403) => continue,
            Err(e) => return Err(e.into()),
        };
        let seen: HashSet<&str> = view.iter().map(|m| m.id.as_str()).collect();
        // A private message not for them was never theirs to see.
        let theirs = |m: &&Message| {
            let readers = m.restricted_visibility();
            readers.is_empty()
                || readers.contains(&old_id.as_str())
                || m.user.as_ref().is_some_and(|u| u.id.as_str() == old_id)
        };
        let gone = originals
            .iter()
            .filter(|m| m.parent_id().is_none() || m.shown_in_channel())
            .filter(theirs)
            .filter(|m| !seen.contains(m.id.as_str()))
            .map(|m| m.created_at)
            .max();
        if let Some(at) = gone {
            cleared.insert(target, at);
        }
    }
    Ok(cleared)
}

/// Adds each member who cleared their history again, seeing nothing of `new` from before the
/// copy of the first original sent after they cleared it.
async fn clear_history(
    client: &Client,
    spec: &ChannelSpec,
    new: &Cid,
    originals: &[Message],
    cleared: &BTreeMap<&StreamUserId, DateTime<Utc>>,
) -> Result<(), StepError> {
    let copies: HashMap<String, DateTime<Utc>> =
        conversation(client, new).await?.into_iter().map(|m| (m.id, m.created_at)).collect();
    let copied_at = |m: &Message| copies.get(&copy_id(new, &m.id)).copied();
    for (who, at) in cleared {
        let (gone, kept): (Vec<&Message>, Vec<&Message>) = originals.iter().partition(|m| m.created_at <= *at);
        let Some(last_gone) = gone.iter().filter_map(|m| copied_at(m)).max() else { continue };
        let before = cut_between(last_gone, kept.iter().filter_map(|m| copied_at(m)).min());
        let role = spec.member_roles.get(who.as_str()).cloned();
        let remove = ChannelUpdate { remove_members: vec![(*who).clone()], ..ChannelUpdate::default() };
        client.update_channel(new, &remove).await?;
        let add = ChannelUpdate {
            add_members: vec![NewMember { user_id: (*who).clone(), channel_role: role }],
            hide_history_before: Some(before),
            ..ChannelUpdate::default()
        };
        client.update_channel(new, &add).await?;
    }
    Ok(())
}

/// The original a member had read up to: the one their read state names, else the last one
/// sent no later than their read time; every one when Stream gave no read state for them.
fn read_up_to<'a>(read: Option<&ReadState>, originals: &'a [Message]) -> Option<&'a Message> {
    let Some(read) = read else { return originals.last() };
    let by_id: HashMap<&str, &Message> = originals.iter().map(|m| (m.id.as_str(), m)).collect();
    if let Some(m) = read.last_read_message_id.as_deref().and_then(|id| by_id.get(id)) {
        return Some(m);
    }
    originals.iter().rev().find(|m| m.created_at <= read.last_read)
}

/// A time between the last message a member must not see and the first they may (when there is
/// one): whether Stream hides what was sent at the very time or only before it, the cut falls
/// right.
pub(crate) fn cut_between(last_gone: DateTime<Utc>, first_kept: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match first_kept {
        Some(first_kept) if first_kept > last_gone => last_gone + (first_kept - last_gone) / 2,
        _ => last_gone + Duration::milliseconds(1),
    }
}
