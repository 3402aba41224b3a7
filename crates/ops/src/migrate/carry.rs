//! What each member had of the old channel, carried to the new one once the room has switched
//! (SYSTEM.md §5, "What a member sees does not change"):
//!
//! - read position (with `--history copy`): a member who had read up to a message has read up
//!   to its copy, so their unread count is what it was (copies of silent messages are silent,
//!   and one's own never count); a member Stream gave no read state for (past the first hundred)
//!   has read everything, so no false badge appears; a member who had read nothing reads nothing;
//! - hidden: a member who hid the room (the platform's `chat_member_hidden`) has the new channel
//!   hidden too (copies and the freezing note are sent with `keep_channel_hidden`, so nothing
//!   showed it meanwhile).
//!
//! Every call is safe to repeat, so a resumed run carries it again without harm.

use std::collections::{HashMap, HashSet};

use gymchat_ids::{Cid, GymId, RoomId, StreamUserId};
use gymchat_stream::model::{Message, ReadState};

use super::error::StepError;
use super::history::originals;
use super::notes::copy_id;
use super::options::History;
use super::plan::spec::ChannelSpec;
use super::run::Runner;

/// Carries read positions and hiding from `old` to `new` for the new channel's members.
pub(crate) async fn carry_member_state(
    runner: &Runner,
    spec: &ChannelSpec,
    old: &Cid,
    new: &Cid,
    history: History,
) -> Result<(), StepError> {
    let client = &runner.client;
    let members: HashSet<StreamUserId> = client.channel_members(new).await?.into_iter().collect();
    if history == History::Copy {
        let reads = client.get_or_create_channel(old, None, 0, None).await?.body.read;
        // A read position is a place in the channel: replies shown only in their thread are
        // not one.
        let mut originals = originals(client, old).await?;
        originals.retain(|m| m.parent_id().is_none() || m.shown_in_channel());
        for (old_id, target) in &spec.member_targets {
            let target = StreamUserId::parse(target)?;
            if !members.contains(&target) {
                continue;
            }
            let read = reads.iter().find(|r| r.user.id.as_str() == old_id);
            if let Some(upto) = read_up_to(read, &originals) {
                client.mark_read(new, &target, Some(&copy_id(new, &upto.id))).await?;
            }
        }
    }
    let room = RoomId::new(spec.room_id)?;
    let gym = GymId::new(spec.gym_id()?)?;
    let hid = runner.store.session().await?.room_hidden_by(room).await?;
    for user in hid {
        let target = StreamUserId::for_member(gym, user);
        if members.contains(&target) {
            client.hide_channel(new, &target, false).await?;
        }
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
