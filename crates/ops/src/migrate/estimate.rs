//! How many calls a plan costs under each strategy, and the least wall time the app's rate limits
//! (`GET /rate_limits`, else Stream's documented defaults: [`AppLimits`]) allow for them: per
//! operation, calls ÷ (limit × budget ÷ 60 s); operations on different
//! endpoints overlap, phases (users, then channels) do not. The counts follow what
//! the apply calls for each item on a first run without faults; with history copied they include
//! the conversation's extra calls (thread replies, reactions at 1,000/min, pins, deleted
//! placeholders, read positions at 10,000/min) as far as the plan's read of each history shows
//! them (the reactions of replies shown only in their thread are not counted).

use std::collections::BTreeMap;

use gymchat_stream::limits::{BATCH, MEMBER_PAGE, MESSAGE_PAGE};

use super::options::{History, Strategy};
use super::plan::spec::{AppLimits, ChannelSpec, Estimate, GymPlan};

fn pages(n: usize, page: u32) -> u64 {
    n.div_ceil(page as usize).max(1) as u64
}

fn add(calls: &mut BTreeMap<String, u64>, op: &str, n: u64) {
    if n > 0 {
        *calls.entry(op.to_owned()).or_default() += n;
    }
}

/// The calls one channel costs.
pub(crate) fn channel_calls(c: &ChannelSpec, strategy: Strategy, history: History, calls: &mut BTreeMap<String, u64>) {
    let member_pages = pages(c.members.len(), MEMBER_PAGE);
    let extra_adds = c.members.len().saturating_sub(BATCH).div_ceil(BATCH) as u64;
    match strategy {
        Strategy::Rebuild => {
            // Create, verify (channel, members), freeze the old (read + update).
            add(calls, "GetOrCreateChannel", 1 + 1 + member_pages + 1);
            add(calls, "UpdateChannel", 1 + extra_adds);
            if c.frozen_after {
                add(calls, "GetOrCreateChannel", 1);
                add(calls, "UpdateChannel", 1);
            }
            match history {
                // The old history, read once to write the file.
                History::ImportFile => add(calls, "GetOrCreateChannel", pages(c.messages, MESSAGE_PAGE)),
                History::Import => import_calls(c, calls),
                History::Copy => copy_calls(c, calls),
                History::None => {}
            }
        }
        Strategy::InPlace => {
            let removes = c.old_members.iter().filter(|m| !c.members.contains(m)).count();
            let extra_removes = removes.saturating_sub(BATCH).div_ceil(BATCH) as u64;
            // Read for the full update, then verify (channel, members).
            add(calls, "GetOrCreateChannel", 1 + 1 + member_pages);
            add(calls, "UpdateChannel", 1 + extra_adds.max(extra_removes));
        }
    }
}

/// What copying one channel's conversation costs: the history is brought up to date three times
/// (copy, verify, the stragglers after the freeze), each reading the old and the new channel
/// with their threads; then what each member had is carried.
fn copy_calls(c: &ChannelSpec, calls: &mut BTreeMap<String, u64>) {
    let h = pages(c.messages, MESSAGE_PAGE);
    let talk = &c.conversation;
    // Old history, new history before copying, new history to verify, old again for stragglers
    // after the freeze; then old history and read state again to carry read positions.
    add(calls, "GetOrCreateChannel", h + 1 + h + h + h + 1);
    add(calls, "GetReplies", 7 * talk.threads as u64);
    add(calls, "SendMessage", (c.messages + talk.replies.saturating_sub(talk.shown_replies)) as u64);
    add(calls, "DeleteMessage", talk.deleted as u64);
    // The original's reactions at each of the three syncs.
    add(calls, "GetReactions", 3 * talk.reacted as u64);
    add(calls, "SendReaction", talk.reactions as u64);
    add(calls, "UpdateMessagePartial", talk.pins as u64);
    add(calls, "MarkRead", c.member_targets.len() as u64);
}

/// What importing one channel's conversation costs beside the import itself (a few calls per
/// run): the old history read for the file (with its threads and reactions), then, as for a
/// copy, the check after the import, the stragglers after the freeze and the carry, which send
/// only what was written meanwhile.
fn import_calls(c: &ChannelSpec, calls: &mut BTreeMap<String, u64>) {
    let h = pages(c.messages, MESSAGE_PAGE);
    let talk = &c.conversation;
    // Old history and read state for the file; old and new to check; old for the stragglers;
    // old and read state to carry.
    add(calls, "GetOrCreateChannel", h + 1 + h + h + h + h + 1);
    add(calls, "GetReplies", 5 * talk.threads as u64);
    add(calls, "GetReactions", 3 * talk.reacted as u64);
    add(calls, "MarkRead", c.member_targets.len() as u64);
}

/// The estimate of one strategy for these gyms.
pub fn estimate(gyms: &[GymPlan], strategy: Strategy, history: History, limits: &AppLimits) -> Estimate {
    let mut users_calls = BTreeMap::new();
    let mut channel_calls_total = BTreeMap::new();
    let mut messages = 0;
    for g in gyms {
        let new = g.users.iter().filter(|u| !u.exists).count();
        let existing = g.users.len() - new;
        if new > 0 {
            add(&mut users_calls, "UpdateUsers", new.div_ceil(BATCH) as u64);
        }
        if existing > 0 {
            add(&mut users_calls, "UpdateUsersPartial", existing.div_ceil(BATCH) as u64);
        }
        for c in &g.channels {
            channel_calls(c, strategy, history, &mut channel_calls_total);
            if strategy == Strategy::Rebuild && history == History::Copy {
                messages += c.messages as u64;
            }
        }
    }
    let seconds = |op: &str, n: u64| n as f64 * 60.0 / limits.of(op).max(1) as f64;
    let users_time: f64 = users_calls.iter().map(|(op, n)| seconds(op, *n)).sum();
    let bottleneck =
        channel_calls_total.iter().map(|(op, n)| (op.clone(), seconds(op, *n))).max_by(|a, b| a.1.total_cmp(&b.1));
    Estimate {
        strategy,
        history,
        users_calls,
        channel_calls: channel_calls_total,
        messages,
        min_wall_seconds_full_budget: users_time + bottleneck.as_ref().map_or(0.0, |b| b.1),
        bottleneck: bottleneck.map(|b| b.0),
    }
}

/// The strategies side by side: rebuild without history, with history copied, with an import
/// file, and in-place.
pub fn estimates(gyms: &[GymPlan], limits: &AppLimits) -> Vec<Estimate> {
    vec![
        estimate(gyms, Strategy::Rebuild, History::None, limits),
        estimate(gyms, Strategy::Rebuild, History::Copy, limits),
        estimate(gyms, Strategy::Rebuild, History::ImportFile, limits),
        estimate(gyms, Strategy::Rebuild, History::Import, limits),
        estimate(gyms, Strategy::InPlace, History::None, limits),
    ]
}
