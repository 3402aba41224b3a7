//! What the steps of both strategies do to a channel: create the target channel with every
//! member (with their roles), add those missing 100 a call, check that a channel is what the spec says (team, `gym_id`,
//! exactly the planned members), and one read-modify-write full update with member changes.

use std::collections::HashSet;

use gymchat_ids::{Cid, StreamUserId, Team};
use gymchat_store::MigrationItem;
use gymchat_stream::Client;
use gymchat_stream::limits::BATCH;
use gymchat_stream::model::{ChannelData, ChannelUpdate, NewMember};
use serde_json::{Map, Value, json};

use super::error::StepError;
use super::plan::spec::{ChannelSpec, MIGRATED_FROM};

/// The spec of a channel item, with its old and new cids.
pub(crate) fn parse_spec(item: &MigrationItem) -> Result<(ChannelSpec, Cid, Cid), StepError> {
    let spec: ChannelSpec = serde_json::from_str(&item.spec)?;
    let old = Cid::parse(&spec.old_cid)?;
    let new = Cid::parse(&spec.new_cid)?;
    Ok((spec, old, new))
}

/// Stream ids from the journal's spec.
pub(crate) fn users(ids: &[String]) -> Result<Vec<StreamUserId>, StepError> {
    Ok(ids.iter().map(|u| StreamUserId::parse(u)).collect::<Result<_, _>>()?)
}

/// Creates the target channel (or finds the one an earlier attempt made) with every member.
pub(crate) async fn create(client: &Client, spec: &ChannelSpec, new: &Cid) -> Result<(), StepError> {
    let members = users(&spec.members)?;
    let data = ChannelData {
        created_by_id: Some(StreamUserId::parse(&spec.created_by)?),
        team: Some(Team::parse(&spec.team)?),
        members: members.iter().take(BATCH).map(|m| member_with_role(spec, m)).collect(),
        frozen: None,
        custom: spec.custom.clone(),
    };
    let state = client.get_or_create_channel(new, Some(&data), 0, None).await?.body;
    if state.channel.custom.get(MIGRATED_FROM) != Some(&json!(spec.old_cid)) {
        return Err(StepError::LeftAlone(format!("{new} exists and was not made from {}: left alone", spec.old_cid)));
    }
    // Made by an earlier run that was rolled back (which froze it): open again while it is
    // filled; it is frozen at the end when it must be.
    if state.channel.frozen {
        set_frozen(client, new, false, ChannelUpdate::default()).await?;
    }
    // The answer carries a page of members; read them all when there are more than a page.
    let present: HashSet<StreamUserId> = if members.len() > BATCH {
        client.channel_members(new).await?.into_iter().collect()
    } else {
        state.members.into_iter().map(|m| m.user_id).collect()
    };
    let missing: Vec<NewMember> =
        members.iter().filter(|m| !present.contains(*m)).map(|m| member_with_role(spec, m)).collect();
    for chunk in missing.chunks(BATCH) {
        let update = ChannelUpdate { add_members: chunk.to_vec(), ..ChannelUpdate::default() };
        client.update_channel(new, &update).await?;
    }
    Ok(())
}

/// A member as a channel takes them: with their role in the old channel when it was not
/// `channel_member`, whether they come under their target id or (a rollback) their legacy one.
fn member_with_role(spec: &ChannelSpec, member: &StreamUserId) -> NewMember {
    let target = spec.member_targets.get(member.as_str()).map_or(member.as_str(), String::as_str);
    NewMember { user_id: member.clone(), channel_role: spec.member_roles.get(target).cloned() }
}

/// Brings the channel's members to `want`: adds those missing, removes the others, 100 a call.
pub(crate) async fn set_members(client: &Client, cid: &Cid, want: &[String]) -> Result<(), StepError> {
    let have: Vec<String> = client.channel_members(cid).await?.into_iter().map(String::from).collect();
    let diff = gymchat_tenant::member_diff(want.iter().map(String::as_str), have.iter().map(String::as_str));
    let (add, remove) = (users(&diff.missing)?, users(&diff.extra)?);
    for i in 0..add.len().max(remove.len()).div_ceil(BATCH) {
        let page = |v: &[StreamUserId]| v.iter().skip(i * BATCH).take(BATCH).cloned().collect::<Vec<_>>();
        let update = ChannelUpdate {
            add_members: page(&add).iter().map(NewMember::from).collect(),
            remove_members: page(&remove),
            ..ChannelUpdate::default()
        };
        client.update_channel(cid, &update).await?;
    }
    Ok(())
}

/// Checks the channel: the gym's team and `gym_id`, and exactly the planned members (one read
/// for a channel of up to 300 members).
pub(crate) async fn verify(client: &Client, spec: &ChannelSpec, cid: &Cid) -> Result<(), StepError> {
    let state = client.channel_with_members(cid).await?;
    let team = state.channel.team.as_ref().map(Team::as_str);
    if team != Some(spec.team.as_str()) {
        return Err(StepError::Drift(format!("{cid} has team {team:?}, not {}", spec.team)));
    }
    let gym_id = state.channel.custom.get(gymchat_tenant::GYM_ID_FIELD);
    if gym_id != spec.custom.get(gymchat_tenant::GYM_ID_FIELD) {
        let want = spec.custom.get(gymchat_tenant::GYM_ID_FIELD);
        return Err(StepError::Drift(format!("{cid} has gym_id {gym_id:?}, not {want:?}")));
    }
    let members: Vec<String> = state.members.into_iter().map(|m| String::from(m.user_id)).collect();
    let diff = gymchat_tenant::member_diff(spec.members.iter().map(String::as_str), members.iter().map(String::as_str));
    if !diff.is_empty() {
        return Err(StepError::Drift(format!(
            "{cid} members differ from the room's: missing {:?}, extra {:?}",
            diff.missing, diff.extra
        )));
    }
    Ok(())
}

/// One read-modify-write full update with `edit` applied, then member updates of up to 100 added
/// (with their roles in the old channel) and 100 removed each until every member is added and
/// removed (data and member changes never travel in one update).
pub(crate) async fn update_data_and_members(
    client: &Client,
    spec: &ChannelSpec,
    cid: &Cid,
    edit: impl FnOnce(&mut Map<String, Value>),
    add: &[StreamUserId],
    remove: &[StreamUserId],
) -> Result<(), StepError> {
    client.update_channel_data(cid, edit, ChannelUpdate::default()).await?;
    let page = |v: &[StreamUserId], i: usize| v.iter().skip(i * BATCH).take(BATCH).cloned().collect::<Vec<_>>();
    for i in 0..add.len().max(remove.len()).div_ceil(BATCH) {
        let update = ChannelUpdate {
            add_members: page(add, i).iter().map(|m| member_with_role(spec, m)).collect(),
            remove_members: page(remove, i),
            ..ChannelUpdate::default()
        };
        client.update_channel(cid, &update).await?;
    }
    Ok(())
}

/// Sets a channel's `frozen` in a read-modify-write full update, with `rest` (a note).
pub(crate) async fn set_frozen(client: &Client, cid: &Cid, frozen: bool, rest: ChannelUpdate) -> Result<(), StepError> {
    client
        .update_channel_data(
            cid,
            |d| {
                d.insert("frozen".into(), json!(frozen));
            },
            rest,
        )
        .await?;
    Ok(())
}
