//! `gymchat sandbox generate`: a synthetic fixture in the reference scenario's format, at any
//! size, for rehearsals and benchmarks. Every gym is in the state gym 4 was in before its
//! migration: Stream users in the legacy form `user_{U}` without teams, channels with legacy ids
//! and no team (`direct_user_{a}_user_{b}`, `room_{Name}_{creator}`, `event_{E}_{hash}`), rooms in
//! the database pointing at them. The same options and seed give the same file (on the same UTC
//! day: events end relative to it).

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, Duration, TimeZone, Utc};
use gymchat_ids::{UserId, legacy_event_creator_hash};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::args::GenerateArgs;

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Builds the fixture.
pub fn fixture(args: &GenerateArgs) -> Result<Value> {
    ensure!(args.users >= 2, "--users must be at least 2 (a direct chat needs two people)");
    ensure!(args.members >= 2 && args.members <= args.users, "--members must be between 2 and --users");
    let mut rng = StdRng::seed_from_u64(args.seed);
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 8, 0, 0).single().context("start time")?;
    // Events end relative to today (half are over, half to come), taken at midnight UTC so that
    // two runs on one day write the same file: taken to the second, two runs a moment apart
    // could straddle a second and differ.
    let now = Utc::now().date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let (mut gyms, mut users, mut user_gyms, mut events, mut rooms, mut members) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut stream_users, mut channels) = (Vec::new(), Vec::new());
    let mut next_room = 1u64;
    let mut next_event = 1u64;
    let mut clock = start;
    for g in 0..args.gyms {
        let gym = args.first_gym_id + g as i64;
        gyms.push(
            json!({ "id": gym, "name": format!("Gym {gym}"), "subdomain": format!("gym-{gym}"), "is_active": true }),
        );
        let first_user = g as i64 * args.users as i64 + 1;
        let people: Vec<i64> = (first_user..first_user + args.users as i64).collect();
        for (i, u) in people.iter().enumerate() {
            let role = match i {
                0 => "OWNER",
                i if i % 20 == 1 => "TRAINER",
                _ => "MEMBER",
            };
            users.push(json!({
                "id": u, "email": format!("user{u}@example.test"), "first_name": "User", "last_name": u.to_string(),
                "auth0_id": format!("auth0|{u:024x}"), "is_active": true, "role": "MEMBER",
            }));
            user_gyms.push(json!({ "user_id": u, "gym_id": gym, "role": role, "is_active": true }));
            stream_users
                .push(json!({ "id": format!("user_{u}"), "name": format!("User {u}"), "role": "user", "teams": [] }));
        }
        let mut pairs = std::collections::HashSet::new();
        for r in 0..args.rooms {
            let room = next_room;
            next_room += 1;
            clock += Duration::seconds(37);
            let kind = r % 10;
            let mut picked: Vec<i64> = Vec::new();
            let want = if kind < 5 { 2 } else { args.members };
            while picked.len() < want {
                let u = people[rng.random_range(0..people.len())];
                if !picked.contains(&u) {
                    picked.push(u);
                }
            }
            let creator = picked[0];
            let (id, name, is_direct, event) = if kind < 5 {
                let (a, b) = (picked[0].min(picked[1]), picked[0].max(picked[1]));
                if pairs.insert((a, b)) {
                    (format!("direct_user_{a}_user_{b}"), format!("Chat {a} - {b}"), true, None)
                } else {
                    (format!("room_Group{room}_{creator}"), format!("Group {room}"), false, None)
                }
            } else if kind < 9 {
                (format!("room_Group{room}_{creator}"), format!("Group {room}"), false, None)
            } else {
                let event = next_event;
                next_event += 1;
                let hash = legacy_event_creator_hash(UserId::new(creator)?);
                // Half the events are over.
                let end = if event.is_multiple_of(2) { now - Duration::days(3) } else { now + Duration::days(30) };
                events.push(json!({
                    "id": event, "gym_id": gym, "title": format!("Event {event}"),
                    "start_time": time(end - Duration::hours(1)), "end_time": time(end),
                    "status": "SCHEDULED", "creator_id": creator,
                }));
                (format!("event_{event}_{hash}"), format!("Evento {event}"), false, Some(event))
            };
            rooms.push(json!({
                "id": room, "stream_channel_id": id, "stream_channel_type": "messaging", "name": name, "gym_id": gym,
                "event_id": event, "is_direct": is_direct, "status": "ACTIVE",
                "created_at": time(clock), "updated_at": time(clock),
            }));
            for u in &picked {
                members.push(json!({ "room_id": room, "user_id": u, "joined_at": time(clock) }));
            }
            let messages: Vec<Value> = (1..=args.messages)
                .map(|m| {
                    let sender = picked[rng.random_range(0..picked.len())];
                    json!({
                        "id": format!("{id}-m{m}"), "user_id": format!("user_{sender}"), "text": format!("message {m} of room {room}"),
                        "created_at": time(clock + Duration::seconds(m as i64)),
                    })
                })
                .collect();
            let mut channel = json!({
                "type": "messaging", "id": id, "team": null, "created_by_id": format!("user_{creator}"),
                "created_at": time(clock), "frozen": false, "name": name,
                "members": picked.iter().map(|u| format!("user_{u}")).collect::<Vec<_>>(), "messages": messages,
            });
            if event.is_some() {
                channel["gym_id"] = json!(gym.to_string());
            }
            channels.push(channel);
        }
    }
    Ok(json!({
        "about": format!(
            "Generated by gymchat sandbox generate: {} gyms of {} users and {} rooms ({} members per group, {} messages per room), seed {}",
            args.gyms, args.users, args.rooms, args.members, args.messages, args.seed
        ),
        "db": {
            "gyms": gyms, "user": users, "user_gyms": user_gyms, "events": events,
            "event_participations": [], "chat_rooms": rooms, "chat_members": members, "chat_member_hidden": [],
        },
        "stream": { "multi_tenant_enabled": true, "users": stream_users, "channels": channels },
    }))
}

/// Writes the fixture; returns what it wrote.
pub fn run(args: &GenerateArgs) -> Result<Value> {
    let doc = fixture(args)?;
    let file = std::fs::File::create(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(file), &doc)?;
    Ok(json!({
        "fixture": args.out.display().to_string(),
        "gyms": args.gyms,
        "rooms": doc["db"]["chat_rooms"].as_array().map_or(0, Vec::len),
        "users": doc["db"]["user"].as_array().map_or(0, Vec::len),
        "messages": args.rooms * args.gyms * args.messages,
    }))
}
