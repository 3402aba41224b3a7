//! The comparison: every room of the gym against the channel it points at, every channel of the
//! gym's team against the rooms, each odd row its own finding. Pure: it works on what `read`
//! gathered, so it can be tested on any shape of data.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use gymchat_ids::{ChannelIdForm, GymId, UserId};
use gymchat_tenant::PersonStanding;
use serde_json::{Value, json};

mod sides;

use super::read::{DbSide, Pointer, RoomAndPointer, StreamSide};
use super::report::{
    Archived, ChannelClass, Finding, FindingKind, GymReport, Retired, Skipped, SourceState, Sources, Summary,
};

fn class_of(form: &ChannelIdForm) -> ChannelClass {
    match form {
        ChannelIdForm::Direct { .. }
        | ChannelIdForm::DirectHashed { .. }
        | ChannelIdForm::LegacyDirect { .. }
        | ChannelIdForm::LegacyDirectCut { .. } => ChannelClass::Direct,
        ChannelIdForm::Event { .. }
        | ChannelIdForm::AmbiguousEvent { .. }
        | ChannelIdForm::LegacyEvent { .. }
        | ChannelIdForm::LegacySystemEvent { .. } => ChannelClass::Event,
        ChannelIdForm::Group { .. } => ChannelClass::Group,
        ChannelIdForm::LegacyGroup { name, .. } if name.eq_ignore_ascii_case("general") => ChannelClass::General,
        ChannelIdForm::LegacyGroup { .. } => ChannelClass::Group,
        ChannelIdForm::General { .. } => ChannelClass::General,
        ChannelIdForm::StreamGenerated => ChannelClass::StreamGenerated,
        ChannelIdForm::Unknown { .. } => ChannelClass::Unknown,
    }
}

/// Builds findings for one gym.
struct Audit<'a> {
    gym: GymId,
    db: &'a DbSide,
    stream: &'a StreamSide,
    now: DateTime<Utc>,
    /// Destructive recommendations are made only on complete reads.
    complete: bool,
    /// The gym's team, `gym_{G}`.
    team: String,
    findings: Vec<Finding>,
    /// Legacy member ids (`user_{U}`, sanitised Auth0) of the channels the rooms point at.
    legacy_ids: BTreeSet<String>,
}

impl Audit<'_> {
    #[allow(clippy::too_many_arguments, reason = "one field each")]
    fn add(
        &mut self,
        kind: FindingKind,
        room_id: Option<i64>,
        cid: Option<&str>,
        evidence: BTreeMap<String, Value>,
        recommendation: &str,
        command: Option<String>,
        destructive: bool,
    ) {
        let (recommendation, command, destructive) = if destructive && !self.complete {
            (
                format!(
                    "{recommendation} — not recommended now: the audit could not read everything, so nothing may be \
                     deleted on its word; audit again once it completes"
                ),
                None,
                false,
            )
        } else {
            (recommendation.to_owned(), command, destructive)
        };
        self.findings.push(Finding {
            kind,
            room_id,
            cid: cid.map(str::to_owned),
            evidence,
            recommendation,
            command,
            destructive,
        });
    }

    fn migrate(&self) -> Option<String> {
        Some(format!("gymchat migrate apply --gym-id {}", self.gym))
    }

    fn cleanup(&self) -> Option<String> {
        Some(format!("gymchat cleanup --gym-id {} --yes", self.gym))
    }

    /// A user's standing in the gym, as the orphan verdict takes it.
    fn person_standing(&self, user: UserId) -> PersonStanding {
        PersonStanding {
            user,
            exists: self.db.users.contains_key(&user),
            active_member: self.db.memberships.iter().any(|m| m.user_id == user && m.active_at(self.now)),
        }
    }

    /// A user's standing in the gym, for evidence.
    fn standing(&self, user: UserId) -> Value {
        let p = self.person_standing(user);
        json!({ "user_id": user.get(), "user_exists": p.exists, "active_member": p.active_member })
    }

    fn event_evidence(&self, event: gymchat_ids::EventId) -> Value {
        match self.db.events.get(&event) {
            None => json!({ "event_id": event.get(), "exists": false }),
            Some(e) => json!({
                "event_id": event.get(),
                "exists": true,
                "gym_id": e.gym_id.get(),
                "status": e.status,
                "over": e.is_over(self.now),
            }),
        }
    }

    /// Each room against its channel: how many are synced, and those that cleanup retired.
    fn rooms(
        &mut self,
        rooms: &[RoomAndPointer<'_>],
        retired: &HashMap<i64, &gymchat_store::RetiredRoom>,
    ) -> (usize, Vec<Retired>) {
        let (db, stream) = (self.db, self.stream);
        let (mut synced, mut retired_out) = (0, Vec::new());
        for &(room, pointer) in rooms {
            let r = &room.room;
            for member in &room.members {
                if !db.users.contains_key(member) {
                    let e = BTreeMap::from([("user_id".to_owned(), json!(member.get()))]);
                    let rec = "the room's member has no user row: remove the member row by hand";
                    self.add(FindingKind::RoomMemberUserMissing, Some(r.id.get()), None, e, rec, None, false);
                }
            }
            if let Some(event) = r.event_id
                && !db.events.contains_key(&event)
            {
                let e = BTreeMap::from([("event_id".to_owned(), json!(event.get()))]);
                let rec = "the room's event does not exist: the migration moves the room as a group room";
                self.add(FindingKind::RoomEventMissing, Some(r.id.get()), None, e, rec, self.migrate(), false);
            }
            match pointer {
                None => self.db_only(room, None, "the room has no channel id"),
                Some(Err(reason)) => {
                    self.db_only(room, None, &format!("the room's channel id is not one Stream accepts: {reason}"))
                }
                Some(Ok(Pointer { key, .. })) => match stream.channels.get(key) {
                    Some(channel) => {
                        synced += 1;
                        self.check_pair(room, key, channel);
                    }
                    None => match retired.get(&r.id.get()) {
                        Some(ret) => retired_out.push(Retired {
                            room_id: r.id.get(),
                            cid: ret.cid.clone(),
                            run_id: ret.run_id.clone(),
                        }),
                        None => self.db_only(room, Some(key), "no channel with this cid exists in Stream"),
                    },
                },
            }
        }
        (synced, retired_out)
    }
}

/// Compares the two sides of `gym` and writes its report.
pub(crate) fn compare(gym: GymId, db: &DbSide, stream: &StreamSide, now: DateTime<Utc>) -> GymReport {
    let complete = db.complete() && stream.complete();
    let audit = || Audit {
        gym,
        db,
        stream,
        now,
        complete,
        team: format!("gym_{gym}"),
        findings: Vec::new(),
        legacy_ids: BTreeSet::new(),
    };
    let mut a = audit();
    let retired: HashMap<i64, &gymchat_store::RetiredRoom> = db.retired.iter().map(|r| (r.room_id.get(), r)).collect();
    // Each room's checks read both sides and nothing else: the rooms are compared in two halves
    // at once, on two threads.
    let rooms: Vec<RoomAndPointer<'_>> = db.rooms_and_pointers().collect();
    let (first, second) = rooms.split_at(rooms.len() / 2);
    let mut b = audit();
    let ((synced_first, retired_first), (synced_second, retired_second)) = std::thread::scope(|scope| {
        let second = scope.spawn(|| b.rooms(second, &retired));
        let first = a.rooms(first, &retired);
        (first, second.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    a.findings.append(&mut b.findings);
    a.legacy_ids.append(&mut b.legacy_ids);
    let synced = synced_first + synced_second;
    let retired_out: Vec<Retired> = retired_first.into_iter().chain(retired_second).collect();

    let moved: HashMap<&str, &gymchat_store::ChannelMove> = db.moves.iter().map(|m| (m.old_cid.as_str(), m)).collect();
    let mut archived = Vec::new();
    for cid in &stream.unclaimed {
        let Some(channel) = stream.channels.get(cid) else { continue };
        match moved.get(cid.as_str()) {
            Some(m) => {
                archived.push(Archived { cid: cid.clone(), room_id: m.room_id.get(), new_cid: m.new_cid.clone() })
            }
            None => a.stream_only(channel, stream.claimed_elsewhere.get(cid)),
        }
    }

    duplicates(&mut a);
    if !db.roomless_member_rows.is_empty() {
        let rows: Vec<Value> =
            db.roomless_member_rows.iter().map(|(id, user)| json!({ "row_id": id, "user_id": user })).collect();
        let e = BTreeMap::from([("rows".to_owned(), Value::Array(rows))]);
        let rec = "nothing to do for chat: these rows belong to no room (their rooms were deleted)";
        a.add(FindingKind::MemberRowsWithoutRoom, None, None, e, rec, None, false);
    }
    for s in &db.skipped {
        let e = BTreeMap::from([
            ("table".to_owned(), json!(s.table)),
            ("key".to_owned(), json!(s.key)),
            ("reason".to_owned(), json!(s.reason)),
        ]);
        let rec = "fix the row in the database; until then the audit cannot vouch for this gym";
        a.add(FindingKind::UnreadableRow, None, None, e, rec, None, false);
    }

    let legacy_ids = a.legacy_ids;
    let mut findings = a.findings;
    findings.sort_by(|x, y| (x.kind, x.room_id, &x.cid).cmp(&(y.kind, y.room_id, &y.cid)));
    let stream_only = findings.iter().filter(|f| f.kind == FindingKind::StreamOnly).count();
    let db_only = findings.iter().filter(|f| f.kind == FindingKind::DbOnly).count();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for f in &findings {
        *counts.entry(f.kind.name()).or_default() += 1;
    }
    let judged = synced + stream_only + db_only;
    let synced_pct = if judged == 0 { 100.0 } else { (synced as f64 * 1000.0 / judged as f64).round() / 10.0 };
    GymReport {
        gym_id: gym.get(),
        complete,
        sources: Sources {
            db: SourceState { complete: db.complete(), problems: db.problems.clone() },
            stream: SourceState { complete: stream.complete(), problems: stream.problems.clone() },
        },
        summary: Summary {
            total_stream_channels: stream.channels.len(),
            total_db_chatrooms: db.rooms.len(),
            synced,
            stream_only,
            db_only,
            synced_pct,
            legacy_member_ids: legacy_ids.into_iter().collect(),
            archived: archived.len(),
            retired: retired_out.len(),
            findings: counts,
        },
        findings,
        archived,
        retired: retired_out,
        skipped_rows: db.skipped.iter().map(Skipped::from).collect(),
    }
}

/// Several rooms for one event, or several direct rooms for one pair of people.
fn duplicates(a: &mut Audit<'_>) {
    let mut by_event: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut by_pair: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
    for room in &a.db.rooms {
        if let Some(event) = room.room.event_id {
            by_event.entry(event.get()).or_default().push(room.room.id.get());
        }
        if room.room.is_direct
            && let [x, y] = room.members.as_slice()
        {
            by_pair.entry((x.get(), y.get())).or_default().push(room.room.id.get());
        }
    }
    for (event, rooms) in by_event.into_iter().filter(|(_, r)| r.len() > 1) {
        let e = BTreeMap::from([("event_id".to_owned(), json!(event)), ("room_ids".to_owned(), json!(rooms))]);
        let rec = "the migration gives the oldest room the event's channel and moves the others as group rooms";
        let cmd = Some(format!("gymchat migrate plan --gym-id {}", a.gym));
        a.add(FindingKind::DuplicateRoomsForEvent, Some(rooms[0]), None, e, rec, cmd, false);
    }
    for ((x, y), rooms) in by_pair.into_iter().filter(|(_, r)| r.len() > 1) {
        let e = BTreeMap::from([("user_ids".to_owned(), json!([x, y])), ("room_ids".to_owned(), json!(rooms))]);
        let rec = "the migration gives the oldest room the pair's direct channel and moves the others as group rooms";
        let cmd = Some(format!("gymchat migrate plan --gym-id {}", a.gym));
        a.add(FindingKind::DuplicateRoomsForPair, Some(rooms[0]), None, e, rec, cmd, false);
    }
}
