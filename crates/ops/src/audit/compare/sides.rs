//! The findings of one side at a time: a room and the channel it points at (members, ids, team,
//! `gym_id`, frozen state), a room without a channel, and a channel of the team that no room
//! claims (with the orphan verdict's evidence).

use std::collections::{BTreeMap, BTreeSet};

use gymchat_ids::{UserId, UserIdForm, classify_channel_id, classify_user_id};
use gymchat_store::RoomWithMembers;
use gymchat_tenant::{EventStanding, OrphanEvidence, Person, RoomStanding, Verdict};
use serde_json::{Value, json};

use super::super::read::{ChannelInfo, value};
use super::super::report::FindingKind;
use super::{Audit, class_of};

impl Audit<'_> {
    /// A room whose channel (keyed `cid`) exists: members, ids, team, `gym_id`, frozen state.
    pub(super) fn check_pair(&mut self, room: &RoomWithMembers, cid: &str, channel: &ChannelInfo) {
        let room_id = Some(room.room.id.get());
        let mut in_channel = BTreeSet::new();
        let (mut legacy, mut foreign, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
        // Target ids of this gym whose Stream user lacks the gym's team.
        let mut outside = Vec::new();
        for id in &channel.members {
            let form = classify_user_id(id);
            let legacy_form = matches!(form, UserIdForm::Legacy { .. } | UserIdForm::Auth0 { .. });
            let person = gymchat_tenant::person(form, id, self.gym, &self.db.by_auth0);
            if legacy_form || matches!(person, Person::Legacy(_)) {
                self.legacy_ids.insert(id.clone());
            }
            match person {
                Person::Target(u) => {
                    in_channel.insert(u);
                    if !self.stream.users.get(id).is_some_and(|teams| teams.contains(&self.team)) {
                        outside.push(id);
                    }
                }
                Person::Legacy(u) => {
                    in_channel.insert(u);
                    legacy.push(id.clone());
                }
                Person::Foreign => foreign.push(id.clone()),
                Person::Special => {}
                Person::Unknown => unknown.push(id.clone()),
            }
        }
        let is_legacy = !legacy.is_empty() || !classify_channel_id(channel.cid.id().as_str()).is_target();
        let in_room: BTreeSet<UserId> = room.members.iter().copied().collect();
        let missing: Vec<i64> = in_room.difference(&in_channel).map(|u| u.get()).collect();
        let extra: Vec<i64> = in_channel.difference(&in_room).map(|u| u.get()).collect();
        // Legacy channels are put right by the migration, which sets members, team and gym_id.
        let fix = if is_legacy {
            "migrate the gym: the migration gives the room a channel with target ids, team and gym_id"
        } else {
            "repair the channel with cleanup"
        };
        let fix_cmd = |a: &Self| if is_legacy { a.migrate() } else { a.cleanup() };
        let cid = Some(cid);
        let ev = |pairs: &[(&str, Value)]| -> BTreeMap<String, Value> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
        };
        if !missing.is_empty() {
            let e = ev(&[
                ("room_members_missing_from_channel", value(&missing)),
                ("channel_members", value(&channel.members)),
            ]);
            self.add(FindingKind::MissingMembers, room_id, cid, e, fix, fix_cmd(self), false);
        }
        if !extra.is_empty() {
            let e = ev(&[("channel_members_not_in_room", value(&extra)), ("room_members", value(&in_room))]);
            self.add(FindingKind::ExtraMembers, room_id, cid, e, fix, fix_cmd(self), false);
        }
        if !legacy.is_empty() {
            let e = ev(&[("legacy_member_ids", value(&legacy))]);
            let rec = "migrate the gym: members move to their gym_{G}_user_{U} ids";
            self.add(FindingKind::LegacyMemberIds, room_id, cid, e, rec, self.migrate(), false);
        }
        if !foreign.is_empty() {
            let e = ev(&[("foreign_member_ids", value(&foreign))]);
            let rec = "remove the other gym's identities from the channel with cleanup";
            self.add(FindingKind::ForeignGymMemberIds, room_id, cid, e, rec, self.cleanup(), false);
        }
        if !unknown.is_empty() {
            let e = ev(&[("unknown_member_ids", value(&unknown))]);
            let rec = "look at these ids by hand: gymchat cannot tell whose they are";
            self.add(FindingKind::UnknownMemberIds, room_id, cid, e, rec, None, false);
        }
        let team = self.team.clone();
        if !is_legacy && !outside.is_empty() {
            let e = ev(&[("members", value(&outside)), ("team", json!(team))]);
            let rec = "give these members' Stream users the gym's team (the migration upserts them with it)";
            self.add(FindingKind::MembersNotInTeam, room_id, cid, e, rec, self.migrate(), false);
        }
        match &channel.team {
            None => {
                let e = ev(&[("team", Value::Null), ("expected", json!(team))]);
                self.add(FindingKind::MissingTeam, room_id, cid, e, fix, fix_cmd(self), false);
            }
            Some(t) if *t != team => {
                let e = ev(&[("team", json!(t)), ("expected", json!(team))]);
                self.add(FindingKind::WrongTeam, room_id, cid, e, fix, fix_cmd(self), false);
            }
            Some(_) => {}
        }
        if !gymchat_tenant::gym_id_matches(channel.gym_id.as_ref(), self.gym) {
            let e = ev(&[
                ("gym_id", channel.gym_id.clone().unwrap_or(Value::Null)),
                ("expected", gymchat_tenant::gym_id_value(self.gym)),
            ]);
            self.add(FindingKind::WrongGymId, room_id, cid, e, fix, fix_cmd(self), false);
        }
        if let Some(event) = room.room.event_id.and_then(|e| self.db.events.get(&e))
            && event.is_over(self.now)
            && !channel.frozen
        {
            let e = ev(&[("event", self.event_evidence(event.id)), ("frozen", json!(false))]);
            let rec = "freeze the channel of the finished event (history stays readable)";
            self.add(FindingKind::NotFrozenEventOver, room_id, cid, e, rec, self.cleanup(), false);
        }
    }

    /// A room whose channel does not exist (or that names none).
    pub(super) fn db_only(&mut self, room: &RoomWithMembers, cid: Option<&str>, why: &str) {
        let r = &room.room;
        let event = r.event_id.map(|e| self.event_evidence(e));
        let event_over = r.event_id.and_then(|e| self.db.events.get(&e)).is_none_or(|e| e.is_over(self.now));
        let closed_event = !r.is_active() && r.event_id.is_some() && event_over;
        let mut e: BTreeMap<String, Value> = BTreeMap::new();
        e.insert("why".into(), json!(why));
        e.insert("status".into(), value(r.status));
        e.insert("name".into(), value(&r.name));
        e.insert("members".into(), value(room.members.iter().map(|m| m.get()).collect::<Vec<_>>()));
        if let Some(ev) = event {
            e.insert("event".into(), ev);
        }
        if closed_event {
            e.insert("reading".into(), json!("closed event whose channel was deleted"));
        }
        if !r.is_active() {
            let rec = "retire the room: its channel is gone and the room is closed (recorded, undoable)";
            self.add(FindingKind::DbOnly, Some(r.id.get()), cid, e, rec, self.cleanup(), true);
        } else if r.event_id.is_some() && event_over {
            let rec = "retire the room: its channel is gone and its event is over (status CLOSED, recorded, undoable)";
            self.add(FindingKind::DbOnly, Some(r.id.get()), cid, e, rec, self.cleanup(), true);
        } else {
            let rec = "give the room its channel again: the migration creates it with target ids";
            self.add(FindingKind::DbOnly, Some(r.id.get()), cid, e, rec, self.migrate(), false);
        }
    }

    /// A channel of the gym's team that no room of the gym points at.
    pub(super) fn stream_only(&mut self, channel: &ChannelInfo, claimed_by: Option<&gymchat_store::Room>) {
        let cid = channel.cid.to_string();
        let form = classify_channel_id(channel.cid.id().as_str());
        let class = class_of(&form);
        let mut e: BTreeMap<String, Value> = BTreeMap::new();
        e.insert("class".into(), value(class));
        e.insert("members".into(), value(&channel.members));
        let users: BTreeMap<&String, Value> = channel
            .members
            .iter()
            .map(|m| {
                (
                    m,
                    self.stream
                        .users
                        .get(m)
                        .map_or(json!({ "exists": false }), |t| json!({ "exists": true, "teams": t })),
                )
            })
            .collect();
        e.insert("stream_users".into(), value(users));
        e.insert("message_count".into(), value(channel.message_count));
        e.insert("last_message_at".into(), value(channel.last_message_at));
        e.insert("frozen".into(), json!(channel.frozen));
        let (named_events, named_people) = (gymchat_tenant::named_events(&form), gymchat_tenant::named_people(&form));
        let named_room = gymchat_tenant::named_room(&form)
            .map(|room| RoomStanding { room, exists: self.db.named_rooms.contains(&room) });
        if let Some(r) = named_room {
            e.insert("room".into(), json!({ "room_id": r.room.get(), "exists": r.exists }));
        }
        if !named_events.is_empty() {
            e.insert("events".into(), named_events.iter().map(|ev| self.event_evidence(*ev)).collect());
        }
        if !named_people.is_empty() {
            e.insert("users".into(), named_people.iter().map(|u| self.standing(*u)).collect());
        }
        if let Some(room) = claimed_by {
            e.insert("room_of_other_gym".into(), json!({ "room_id": room.id.get(), "gym_id": room.gym_id.get() }));
            let rec = "the channel carries this gym's team, but a room of another gym points at it: fix its team";
            self.add(FindingKind::StreamOnly, None, Some(&cid), e, rec, None, false);
            return;
        }
        let evidence = OrphanEvidence {
            belongs: gymchat_tenant::belongs_to_gym(channel.team.as_deref(), channel.gym_id.as_ref(), self.gym),
            claimed_by: None,
            events: named_events
                .iter()
                .map(|ev| EventStanding { event: *ev, gym: self.db.events.get(ev).map(|e| e.gym_id) })
                .collect(),
            people: named_people.iter().map(|u| self.person_standing(*u)).collect(),
            room: named_room,
        };
        match Verdict::of(self.gym, &evidence) {
            Verdict::Orphaned(because) => {
                e.insert("orphaned_because".into(), json!(because));
                let messages = channel.message_count.unwrap_or(usize::MAX);
                let with = if messages == 0 { "" } else { " --include-with-messages" };
                let rec = format!("delete the orphaned channel (soft; add --hard to purge): {because}");
                let cmd = format!("gymchat cleanup channel --cid {cid} --yes{with}");
                self.add(FindingKind::StreamOnly, None, Some(&cid), e, &rec, Some(cmd), true);
            }
            Verdict::NotProven(why) => {
                let rec = format!("{why}: look at it before any change");
                self.add(FindingKind::StreamOnly, None, Some(&cid), e, &rec, None, false);
            }
        }
    }
}
