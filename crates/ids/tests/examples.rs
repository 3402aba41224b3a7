//! The id rules on the concrete ids of SYSTEM.md §3 and the gym 4 reference scenario.

use gymchat_ids::*;

fn g(n: i64) -> GymId {
    GymId::new(n).unwrap()
}
fn u(n: i64) -> UserId {
    UserId::new(n).unwrap()
}

#[test]
fn target_constructors_match_the_documented_examples() {
    assert_eq!(StreamUserId::for_member(g(4), u(10)).as_str(), "gym_4_user_10");
    assert_eq!(Team::for_gym(g(4)).as_str(), "gym_4");
    assert_eq!(StreamUserId::bot(g(4)).as_str(), "gym_4_bot");
    assert_eq!(ChannelId::direct(g(4), u(10), u(8)).unwrap().as_str(), "direct_gym_4_user_10_gym_4_user_8");
    assert_eq!(ChannelId::group(g(4), RoomId::new(639).unwrap()).as_str(), "room_4_639");
    assert_eq!(ChannelId::event(g(4), EventId::new(639).unwrap()).as_str(), "event_4_639");
    assert_eq!(ChannelId::general(g(4)).as_str(), "general_4");
}

#[test]
fn direct_chat_with_oneself_is_refused() {
    assert_eq!(ChannelId::direct(g(4), u(10), u(10)), Err(IdError::SameUser));
}

#[test]
fn direct_id_over_64_chars_is_hashed_not_truncated() {
    let (a, b) = (u(9_000_000_000_000_000_001), u(9_000_000_000_000_000_002));
    let id = ChannelId::direct(g(9_000_000_000_000_000_000), a, b).unwrap();
    assert!(id.as_str().len() <= 64, "{id}");
    assert!(id.as_str().starts_with("direct_9000000000000000000_"), "{id}");
    assert!(matches!(classify_channel_id(id.as_str()), ChannelIdForm::DirectHashed { .. }));
}

#[test]
fn fixture_legacy_users_are_recognised() {
    assert_eq!(classify_user_id("user_10"), UserIdForm::Legacy { user: u(10) });
    assert_eq!(classify_user_id("gym_4_user_10"), UserIdForm::Target { gym: g(4), user: u(10) });
    assert_eq!(classify_user_id("gym_4_bot"), UserIdForm::Bot { gym: g(4) });
    assert_eq!(classify_user_id("system"), UserIdForm::System);
    let auth0 = sanitize_auth0_subject("auth0|64f0a10000000000000000a1").unwrap();
    assert_eq!(auth0.as_str(), "auth0_64f0a10000000000000000a1");
    assert_eq!(classify_user_id(auth0.as_str()), UserIdForm::Auth0 { provider: "auth0".into() });
    let google = sanitize_auth0_subject("google-oauth2|112233445566778899001").unwrap();
    assert_eq!(google.as_str(), "google-oauth2_112233445566778899001");
    assert_eq!(classify_user_id(google.as_str()), UserIdForm::Auth0 { provider: "google-oauth2".into() });
}

#[test]
fn sanitising_replaces_everything_outside_the_legacy_charset() {
    assert_eq!(sanitize_auth0_subject("auth0|AbC.d").unwrap().as_str(), "auth0__b__d");
    assert_eq!(sanitize_auth0_subject("ñ|x").unwrap().as_str(), "__x");
    assert!(sanitize_auth0_subject("").is_err());
}

#[test]
fn fixture_channels_are_classified() {
    assert_eq!(
        classify_channel_id("direct_user_10_user_8"),
        ChannelIdForm::LegacyDirect { first: u(10), second: u(8) }
    );
    assert_eq!(
        classify_channel_id("room_General_10"),
        ChannelIdForm::LegacyGroup { name: "General".into(), creator: u(10) }
    );
    assert_eq!(
        classify_channel_id("event_644_d3d94468"),
        ChannelIdForm::LegacyEvent { event: EventId::new(644).unwrap(), creator_hash: "d3d94468".into() }
    );
    assert_eq!(legacy_event_creator_hash(u(10)), "d3d94468");
    assert_eq!(
        classify_channel_id("event_12_system"),
        ChannelIdForm::LegacySystemEvent { event: EventId::new(12).unwrap() }
    );
    assert_eq!(
        classify_channel_id("direct_gym_4_user_10_gym_4_user_8"),
        ChannelIdForm::Direct { gym: g(4), first: u(10), second: u(8) }
    );
    assert_eq!(classify_channel_id("general_4"), ChannelIdForm::General { gym: g(4) });
}

#[test]
fn fifteen_char_cut_direct_ids_are_recognised() {
    // Two sanitised Auth0 subjects, each cut to 15 characters.
    let form = classify_channel_id("direct_auth0_64f0a1000_google-oauth2_1");
    assert_eq!(
        form,
        ChannelIdForm::LegacyDirectCut {
            first_prefix: "auth0_64f0a1000".into(),
            second_prefix: "google-oauth2_1".into()
        }
    );
}

#[test]
fn an_eight_digit_event_suffix_is_reported_as_ambiguous() {
    let form = classify_channel_id("event_644_12345678");
    assert!(matches!(form, ChannelIdForm::AmbiguousEvent { .. }), "{form:?}");
    // A leading zero cannot be a canonical event id, so only the legacy reading remains.
    assert!(matches!(classify_channel_id("event_644_01234567"), ChannelIdForm::LegacyEvent { .. }));
}

#[test]
fn ids_stream_generated_are_accepted_and_recognised() {
    let id = ChannelId::parse("!members-a1B2c3D4e5F6").unwrap();
    assert!(id.is_stream_generated());
    assert_eq!(classify_channel_id(id.as_str()), ChannelIdForm::StreamGenerated);
    assert_eq!(Cid::parse("messaging:!members-a1B2").unwrap().id().as_str(), "!members-a1B2");
    assert!(!ChannelId::group(g(4), RoomId::new(639).unwrap()).is_stream_generated());
    assert!(ChannelType::parse("!messaging").is_err(), "types never hold `!`");
    assert!(ChannelId::parse("room!").is_err(), "`!` only leads an id Stream generated");
    assert!(StreamUserId::parse("!user").is_err(), "user ids never hold `!`");
}

#[test]
fn malformed_ids_are_rejected_with_reasons() {
    let cases = [
        ("", "empty"),
        ("room:4", "':'"),
        ("direct_gym_4_user_10_gym_5_user_8", "two different gyms"),
        ("direct_gym_4_user_8_gym_4_user_10", "sorted order"),
        ("gym_04_user_1x", "no known prefix"),
        ("general_04", "gym id"),
        ("event_x_y", "event_"),
    ];
    for (id, reason) in cases {
        match classify_channel_id(id) {
            ChannelIdForm::Unknown { reason: r } => assert!(r.contains(reason), "{id}: {r}"),
            other => panic!("{id} classified as {other:?}"),
        }
    }
    let long = "a".repeat(65);
    assert!(matches!(classify_channel_id(&long), ChannelIdForm::Unknown { reason } if reason.contains("65")));
    assert!(matches!(classify_user_id("gym_04_user_10"), UserIdForm::Unknown { .. }));
    assert!(matches!(classify_user_id("user 10"), UserIdForm::Unknown { .. }));
}

#[test]
fn uppercase_user_ids_are_accepted_but_never_produced() {
    assert!(StreamUserId::parse("User_ABC").is_ok());
    assert!(matches!(classify_user_id("auth0_ABC"), UserIdForm::Unknown { .. }));
}

#[test]
fn cids_parse_and_print_as_type_colon_id() {
    let cid: Cid = "messaging:room_4_639".parse().unwrap();
    assert_eq!(cid.channel_type().as_str(), "messaging");
    assert_eq!(cid.id().as_str(), "room_4_639");
    assert_eq!(cid.to_string(), "messaging:room_4_639");
    assert_eq!("room_4_639".parse::<Cid>(), Err(IdError::MalformedCid));
    assert!("messaging:room!".parse::<Cid>().is_err());
}

#[test]
fn serde_is_transparent_and_validates() {
    let id: ChannelId = serde_json::from_str("\"room_4_639\"").unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"room_4_639\"");
    assert!(serde_json::from_str::<ChannelId>("\"bad id\"").is_err());
    let gym: GymId = serde_json::from_str("4").unwrap();
    assert_eq!(serde_json::to_string(&gym).unwrap(), "4");
    assert!(serde_json::from_str::<GymId>("0").is_err());
}
