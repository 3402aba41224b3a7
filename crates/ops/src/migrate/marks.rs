//! What members did to messages once they were sent, carried to the copies: reactions (each by
//! the reactor's new id, with its type, score and custom fields, `skip_push`, so nobody is
//! notified of a reaction they saw long ago) and pins (pinned by the pinner's new id, or the
//! gym's bot when the pinner has no person, with the same `pin_expires`; a pin that has expired
//! is not carried). A reaction by someone without a person is not carried (it would be someone
//! else's): it is counted as left out. Every call is safe to repeat: one reaction per user and
//! type, and pinning a pinned message changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use gymchat_ids::{Cid, StreamUserId};
use gymchat_stream::Client;
use gymchat_stream::model::{Message, NewReaction, Reaction};
use serde_json::{Map, Value, json};

use super::error::StepError;
use super::notes::copy_id;
use super::plan::spec::ChannelSpec;

/// Reactions and pins carried, missing or left out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marks {
    /// Reactions sent now.
    pub reactions: usize,
    /// Pins set now.
    pub pins: usize,
    /// Still missing (when not sending).
    pub missing: usize,
    /// Reactions by someone without a person, not carried.
    pub left_out: usize,
}

/// Brings the reactions and pins of the copies in `new` up to their originals'. `present` is
/// the new channel's conversation as read before this sync's sends: a copy not in it was just
/// sent and has neither.
pub(crate) async fn sync_marks(
    client: &Client,
    spec: &ChannelSpec,
    originals: &[Message],
    new: &Cid,
    present: &HashMap<String, Message>,
    send: bool,
) -> Result<Marks, StepError> {
    let mut marks = Marks::default();
    for original in originals.iter().filter(|m| m.kind != "deleted") {
        let id = copy_id(new, &original.id);
        let copy = present.get(&id);
        if !send && copy.is_none() {
            // Its copy is missing, which the message count already says.
            continue;
        }
        if original.reaction_total() > 0 {
            sync_reactions(client, spec, original, &id, copy, send, &mut marks).await?;
        }
        if let Some(pinner) = live_pin(original)
            && copy.and_then(Message::pinned_by).is_none()
        {
            if !send {
                marks.missing += 1;
                continue;
            }
            let by = spec.person_target(pinner).map_or_else(|| spec.gym_bot(), str::to_owned);
            let mut set = Map::new();
            set.insert("pinned".into(), json!(true));
            if let Some(expires) = original.pin_expires() {
                set.insert("pin_expires".into(), json!(expires));
            }
            client.update_message_partial(&id, &StreamUserId::parse(&by)?, set, &[]).await?;
            marks.pins += 1;
        }
    }
    Ok(marks)
}

/// Who pinned a message whose pin has not expired.
pub(crate) fn live_pin(message: &Message) -> Option<&str> {
    let pinner = message.pinned_by()?;
    message.pin_expires().is_none_or(|at| at > Utc::now()).then_some(pinner)
}

/// Sends the reactions of `original` its copy lacks. The copy's reactions are read only when
/// their number differs from what it should carry.
async fn sync_reactions(
    client: &Client,
    spec: &ChannelSpec,
    original: &Message,
    copy_id: &str,
    copy: Option<&Message>,
    send: bool,
    marks: &mut Marks,
) -> Result<(), StepError> {
    let mut wanted: Vec<NewReaction> = Vec::new();
    for reaction in client.message_reactions(&original.id).await? {
        match spec.person_target(reaction.user_id.as_str()) {
            Some(target) => wanted.push(carried(&reaction, StreamUserId::parse(target)?)),
            None => marks.left_out += 1,
        }
    }
    let have = copy.map_or(0, Message::reaction_total);
    if have == wanted.len() as u64 {
        return Ok(());
    }
    let existing: HashSet<(String, String)> = if have == 0 {
        HashSet::new()
    } else {
        client.message_reactions(copy_id).await?.into_iter().map(|r| (r.kind, r.user_id.to_string())).collect()
    };
    for reaction in wanted {
        if existing.contains(&(reaction.kind.clone(), reaction.user_id.to_string())) {
            continue;
        }
        if send {
            client.send_reaction(copy_id, &reaction, true).await?;
            marks.reactions += 1;
        } else {
            marks.missing += 1;
        }
    }
    Ok(())
}

/// A reaction as its copy is sent: the same type, score and custom fields, by `user`.
fn carried(reaction: &Reaction, user: StreamUserId) -> NewReaction {
    let custom = reaction
        .custom
        .iter()
        .filter(|(k, _)| !["message_id", "user", "updated_at"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<Map<String, Value>>();
    NewReaction { kind: reaction.kind.clone(), user_id: user, score: Some(reaction.score), custom }
}
