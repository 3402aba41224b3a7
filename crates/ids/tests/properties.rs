//! Property tests of the id rules: validity, symmetry, uniqueness, round trips, totality.

use std::collections::HashSet;

use gymchat_ids::*;
use proptest::prelude::*;

fn id_strategy() -> impl Strategy<Value = i64> {
    // Small ids as in production, plus the full range to reach the hashed direct form.
    prop_oneof![1i64..10_000, 1i64..=i64::MAX]
}

fn is_produced_charset(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn produced_ids_match_streams_pattern_and_limit(g in id_strategy(), a in id_strategy(), b in id_strategy(), e in id_strategy()) {
        let (gym, ua, ub) = (GymId::new(g).unwrap(), UserId::new(a).unwrap(), UserId::new(b).unwrap());
        let mut channels = vec![
            ChannelId::group(gym, RoomId::new(e).unwrap()),
            ChannelId::event(gym, EventId::new(e).unwrap()),
            ChannelId::general(gym),
        ];
        if a != b {
            channels.push(ChannelId::direct(gym, ua, ub).unwrap());
        }
        for c in &channels {
            prop_assert!(c.as_str().len() <= 64 && is_produced_charset(c.as_str()), "{}", c);
            prop_assert_eq!(&ChannelId::parse(c.as_str()).unwrap(), c);
        }
        let users = [StreamUserId::for_member(gym, ua), StreamUserId::bot(gym)];
        for s in &users {
            prop_assert!(s.as_str().len() <= 255 && is_produced_charset(s.as_str()));
        }
        prop_assert!(Team::for_gym(gym).as_str().len() <= 100);
    }

    #[test]
    fn direct_ids_are_symmetric(g in id_strategy(), a in id_strategy(), b in id_strategy()) {
        prop_assume!(a != b);
        let (gym, ua, ub) = (GymId::new(g).unwrap(), UserId::new(a).unwrap(), UserId::new(b).unwrap());
        prop_assert_eq!(ChannelId::direct(gym, ua, ub).unwrap(), ChannelId::direct(gym, ub, ua).unwrap());
    }

    #[test]
    fn distinct_pairs_never_share_a_direct_id(
        g1 in id_strategy(), a1 in id_strategy(), b1 in id_strategy(),
        g2 in id_strategy(), a2 in id_strategy(), b2 in id_strategy(),
    ) {
        prop_assume!(a1 != b1 && a2 != b2);
        let pair = |g, a: i64, b: i64| (g, a.min(b), a.max(b));
        prop_assume!(pair(g1, a1, b1) != pair(g2, a2, b2));
        let id = |g, a, b| ChannelId::direct(GymId::new(g).unwrap(), UserId::new(a).unwrap(), UserId::new(b).unwrap()).unwrap();
        prop_assert_ne!(id(g1, a1, b1), id(g2, a2, b2));
    }

    #[test]
    fn produced_ids_classify_back_to_what_made_them(g in id_strategy(), a in id_strategy(), b in id_strategy(), r in id_strategy()) {
        let (gym, ua, ub) = (GymId::new(g).unwrap(), UserId::new(a).unwrap(), UserId::new(b).unwrap());
        prop_assert_eq!(classify_user_id(StreamUserId::for_member(gym, ua).as_str()), UserIdForm::Target { gym, user: ua });
        prop_assert_eq!(classify_user_id(StreamUserId::bot(gym).as_str()), UserIdForm::Bot { gym });
        let room = RoomId::new(r).unwrap();
        prop_assert_eq!(classify_channel_id(ChannelId::group(gym, room).as_str()), ChannelIdForm::Group { gym, room });
        prop_assert_eq!(classify_channel_id(ChannelId::general(gym).as_str()), ChannelIdForm::General { gym });
        let event = EventId::new(r).unwrap();
        match classify_channel_id(ChannelId::event(gym, event).as_str()) {
            ChannelIdForm::Event { gym: cg, event: ce } => prop_assert_eq!((cg, ce), (gym, event)),
            ChannelIdForm::AmbiguousEvent { target_gym, target_event, .. } => {
                prop_assert_eq!((target_gym, target_event), (gym, event));
                prop_assert_eq!(event.to_string().len(), 8);
            }
            other => prop_assert!(false, "event id classified as {:?}", other),
        }
        if a != b {
            let direct = ChannelId::direct(gym, ua, ub).unwrap();
            match classify_channel_id(direct.as_str()) {
                ChannelIdForm::Direct { gym: cg, first, second } => {
                    prop_assert_eq!(cg, gym);
                    let mut got = [first, second];
                    let mut want = [ua, ub];
                    got.sort();
                    want.sort();
                    prop_assert_eq!(got, want);
                }
                ChannelIdForm::DirectHashed { gym: cg, .. } => {
                    prop_assert_eq!(cg, gym);
                    let plain_len = format!("direct_{}_{}", StreamUserId::for_member(gym, ua), StreamUserId::for_member(gym, ub)).len();
                    prop_assert!(plain_len > 64, "hashed although the plain form has {} chars", plain_len);
                }
                other => prop_assert!(false, "direct id classified as {:?}", other),
            }
        }
    }

    #[test]
    fn classifiers_never_panic_on_arbitrary_strings(s in any::<String>()) {
        let _ = classify_channel_id(&s);
        let _ = classify_user_id(&s);
        let _ = s.parse::<Cid>();
        let _ = s.parse::<GymId>();
        let _ = sanitize_auth0_subject(&s);
    }

    #[test]
    fn produced_channel_ids_never_hold_the_reserved_bang(gym in 1i64..1_000_000, a in 1i64..1_000_000_000, b in 1i64..1_000_000_000) {
        let gym = GymId::new(gym).unwrap();
        let (a, b) = (UserId::new(a).unwrap(), UserId::new(b).unwrap());
        if let Ok(direct) = ChannelId::direct(gym, a, b) {
            prop_assert!(!direct.is_stream_generated());
        }
        prop_assert!(!ChannelId::general(gym).is_stream_generated());
    }

    #[test]
    fn classifiers_never_panic_on_id_like_strings(s in "(direct|room|event|general|gym|user)_[a-z0-9_]{0,70}") {
        let form = classify_channel_id(&s);
        if s.len() > 64 {
            let is_unknown = matches!(form, ChannelIdForm::Unknown { .. });
            prop_assert!(is_unknown, "over-long id accepted: {:?}", form);
        }
        let _ = classify_user_id(&s);
    }
}

/// A large deterministic sample of long ids (all hashed) has no collision.
#[test]
fn hashed_direct_ids_do_not_collide_over_a_large_sample() {
    let gym = GymId::new(9_000_000_000_000_000_000).unwrap();
    let base = 9_100_000_000_000_000_000i64;
    let mut seen = HashSet::new();
    let mut hashed = 0;
    for a in 0..450i64 {
        for b in (a + 1)..450 {
            let id = ChannelId::direct(gym, UserId::new(base + a).unwrap(), UserId::new(base + b).unwrap()).unwrap();
            hashed += usize::from(matches!(classify_channel_id(id.as_str()), ChannelIdForm::DirectHashed { .. }));
            assert!(seen.insert(id), "collision at pair ({a}, {b})");
        }
    }
    assert_eq!(seen.len(), 450 * 449 / 2);
    assert_eq!(hashed, seen.len(), "every id in the sample should be in the hashed form");
}
