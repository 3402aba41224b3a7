//! One test per tenant rule: channel ids by purpose, the room's pointer, team and `gym_id`,
//! members, and the orphan verdict.

use gymchat_ids::{EventId, GymId, RoomId, UserId};
use gymchat_store::{Room, RoomWithMembers};
use gymchat_tenant::{
    ChannelKind, EventStanding, OrphanEvidence, PersonStanding, Purpose, RoomStanding, Verdict, belongs_to_gym,
    channel_custom, gym_id_matches, gym_id_value, member_diff, member_ids, named_events, named_people, room_cid, team,
    team_matches,
};
use serde_json::json;

fn gym() -> GymId {
    GymId::new(4).unwrap()
}

fn user(u: i64) -> UserId {
    UserId::new(u).unwrap()
}

fn room(id: i64, is_direct: bool, event: Option<i64>, members: &[i64]) -> RoomWithMembers {
    RoomWithMembers {
        room: Room {
            id: RoomId::new(id).unwrap(),
            stream_channel_id: Some(format!("legacy_{id}")),
            stream_channel_type: "messaging".into(),
            name: Some("Room".into()),
            gym_id: gym(),
            event_id: event.map(|e| EventId::new(e).unwrap()),
            is_direct,
            status: None,
            created_at: None,
            updated_at: None,
        },
        members: members.iter().map(|u| user(*u)).collect(),
    }
}

#[test]
fn a_direct_room_of_two_gets_the_pairs_channel_either_way_round() {
    let a = Purpose::of_room(&room(1, true, None, &[8, 10]), |_| true);
    assert_eq!(a, Purpose::Direct(user(8), user(10)));
    assert_eq!(a.kind(), ChannelKind::Direct);
    assert_eq!(a.channel_id(gym()).unwrap().as_str(), "direct_gym_4_user_10_gym_4_user_8");
    let b = Purpose::Direct(user(10), user(8)).channel_id(gym()).unwrap();
    assert_eq!(b.as_str(), "direct_gym_4_user_10_gym_4_user_8");
}

#[test]
fn a_direct_room_without_exactly_two_members_is_a_group() {
    assert_eq!(Purpose::of_room(&room(5, true, None, &[8, 10, 11]), |_| true), Purpose::Group(RoomId::new(5).unwrap()));
    assert_eq!(Purpose::of_room(&room(5, true, None, &[8]), |_| true).kind(), ChannelKind::Group);
}

#[test]
fn an_event_room_gets_the_events_channel_only_while_the_event_exists() {
    let r = room(665, false, Some(639), &[8, 10]);
    let p = Purpose::of_room(&r, |_| true);
    assert_eq!(p.channel_id(gym()).unwrap().as_str(), "event_4_639");
    let gone = Purpose::of_room(&r, |_| false);
    assert_eq!(gone.channel_id(gym()).unwrap().as_str(), "room_4_665");
}

#[test]
fn the_general_channel_and_groups_have_their_own_ids() {
    assert_eq!(Purpose::General.cid(gym()).unwrap().to_string(), "messaging:general_4");
    assert_eq!(Purpose::Group(RoomId::new(639).unwrap()).cid(gym()).unwrap().to_string(), "messaging:room_4_639");
}

#[test]
fn a_room_points_at_its_type_and_id_or_says_why_not() {
    let mut r = room(1, false, None, &[]).room;
    assert_eq!(room_cid(&r).unwrap().unwrap().to_string(), "messaging:legacy_1");
    r.stream_channel_id = Some("bad:id".into());
    assert!(room_cid(&r).unwrap().is_err());
    r.stream_channel_id = None;
    assert!(room_cid(&r).is_none());
}

#[test]
fn gym_id_is_written_as_a_string_and_read_in_both_forms() {
    assert_eq!(gym_id_value(gym()), json!("4"));
    assert!(gym_id_matches(Some(&json!("4")), gym()));
    assert!(gym_id_matches(Some(&json!(4)), gym()));
    assert!(!gym_id_matches(Some(&json!("5")), gym()));
    assert!(!gym_id_matches(Some(&json!(5)), gym()));
    assert!(!gym_id_matches(Some(&json!(null)), gym()));
    assert!(!gym_id_matches(None, gym()));
}

#[test]
fn a_gyms_channels_carry_its_team_name_and_string_gym_id() {
    assert_eq!(team(gym()).as_str(), "gym_4");
    assert!(team_matches(Some("gym_4"), gym()) && !team_matches(Some("gym_5"), gym()) && !team_matches(None, gym()));
    let custom = channel_custom(gym(), Some("Yoga"));
    assert_eq!(serde_json::Value::Object(custom), json!({ "name": "Yoga", "gym_id": "4" }));
}

#[test]
fn another_gyms_team_is_never_this_gyms_whatever_its_gym_id_says() {
    assert!(belongs_to_gym(Some("gym_4"), None, gym()));
    assert!(belongs_to_gym(None, Some(&json!(4)), gym()));
    assert!(!belongs_to_gym(Some("gym_5"), Some(&json!("4")), gym()));
    assert!(!belongs_to_gym(None, None, gym()));
}

#[test]
fn a_rooms_channel_holds_exactly_its_members_target_ids() {
    let ids: Vec<String> = member_ids(gym(), [user(10), user(8)]).into_iter().map(String::from).collect();
    assert_eq!(ids, ["gym_4_user_10", "gym_4_user_8"]);
    let diff = member_diff(ids.iter().map(String::as_str), ["gym_4_user_10", "user_8"]);
    assert_eq!(diff.missing, ["gym_4_user_8"]);
    assert_eq!(diff.extra, ["user_8"]);
    assert!(member_diff(["a"], ["a"]).is_empty());
}

fn evidence() -> OrphanEvidence {
    OrphanEvidence { belongs: true, claimed_by: None, events: Vec::new(), people: Vec::new(), room: None }
}

#[test]
fn a_channel_whose_event_is_gone_is_orphaned() {
    let e =
        OrphanEvidence { events: vec![EventStanding { event: EventId::new(644).unwrap(), gym: None }], ..evidence() };
    assert_eq!(Verdict::of(gym(), &e), Verdict::Orphaned("its event no longer exists"));
    let other_gym = EventStanding { event: EventId::new(644).unwrap(), gym: Some(GymId::new(5).unwrap()) };
    assert!(Verdict::of(gym(), &OrphanEvidence { events: vec![other_gym], ..evidence() }).is_orphaned());
    let alive = EventStanding { event: EventId::new(644).unwrap(), gym: Some(gym()) };
    assert!(!Verdict::of(gym(), &OrphanEvidence { events: vec![alive], ..evidence() }).is_orphaned());
}

#[test]
fn a_direct_channel_one_of_whose_people_left_is_orphaned() {
    let stays = PersonStanding { user: user(8), exists: true, active_member: true };
    let left = PersonStanding { user: user(10), exists: true, active_member: false };
    assert!(Verdict::of(gym(), &OrphanEvidence { people: vec![stays, left], ..evidence() }).is_orphaned());
    assert!(!Verdict::of(gym(), &OrphanEvidence { people: vec![stays, stays], ..evidence() }).is_orphaned());
}

#[test]
fn a_group_channel_whose_room_is_gone_is_orphaned() {
    let room = |exists| Some(RoomStanding { room: RoomId::new(99).unwrap(), exists });
    assert_eq!(
        Verdict::of(gym(), &OrphanEvidence { room: room(false), ..evidence() }),
        Verdict::Orphaned("its room no longer exists")
    );
    assert!(!Verdict::of(gym(), &OrphanEvidence { room: room(true), ..evidence() }).is_orphaned());
    assert_eq!(gymchat_tenant::named("room_4_99").room, Some(RoomId::new(99).unwrap()));
    assert_eq!(gymchat_tenant::named("room_General_10").room, None, "a legacy group names no room id");
}

#[test]
fn a_claimed_or_foreign_or_purposeless_channel_is_never_proven_orphaned() {
    let gone = vec![EventStanding { event: EventId::new(644).unwrap(), gym: None }];
    let claimed = OrphanEvidence { claimed_by: Some((639, gym())), events: gone.clone(), ..evidence() };
    assert!(!Verdict::of(gym(), &claimed).is_orphaned());
    let foreign = OrphanEvidence { belongs: false, events: gone, ..evidence() };
    assert!(!Verdict::of(gym(), &foreign).is_orphaned());
    assert!(!Verdict::of(gym(), &evidence()).is_orphaned(), "a General channel: nothing says its purpose is gone");
}

#[test]
fn channel_ids_name_their_events_and_people_in_every_reading() {
    let form = gymchat_ids::classify_channel_id("event_644_d3d94468");
    assert_eq!(named_events(&form), [EventId::new(644).unwrap()]);
    let form = gymchat_ids::classify_channel_id("direct_user_10_user_8");
    assert_eq!(named_people(&form), [user(10), user(8)]);
    assert!(named_people(&gymchat_ids::classify_channel_id("room_4_639")).is_empty());
}

#[test]
fn a_member_id_is_the_gyms_person_in_either_form_or_someone_else() {
    use gymchat_tenant::{Person, person_of};
    let by_auth0 = std::collections::HashMap::from([("auth0_abc".to_owned(), user(10))]);
    assert_eq!(person_of("gym_4_user_10", gym(), &by_auth0), Person::Target(user(10)));
    assert_eq!(person_of("user_10", gym(), &by_auth0), Person::Legacy(user(10)));
    assert_eq!(person_of("auth0_abc", gym(), &by_auth0), Person::Legacy(user(10)));
    assert_eq!(person_of("auth0_zzz", gym(), &by_auth0), Person::Unknown);
    assert_eq!(person_of("gym_5_user_10", gym(), &by_auth0), Person::Foreign);
    assert_eq!(person_of("gym_4_bot", gym(), &by_auth0), Person::Special);
    assert_eq!(person_of("gym_5_bot", gym(), &by_auth0), Person::Foreign);
    assert_eq!(person_of("system", gym(), &by_auth0).user(), None);
}
