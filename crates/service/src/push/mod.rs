//! Push notifications for new messages, as the platform sends them (APP_CONTRACT §5.1, §5.2),
//! through OneSignal, durable and at least once.
//!
//! - `plan`: the pushes a `message.new` webhook causes. The new-message push goes to the
//!   webhook's `members` who are not the sender, have unread messages and are offline; a message
//!   whose room or text speaks of classes, events or bookings is an `event` notification and is
//!   only sent when the sender is TRAINER or above in the room's gym. Each `@word` that begins
//!   the email of a member of the room (and of its gym) notifies that member once per mention.
//! - The pushes are written to the outbox (`gymchat_push_outbox`) in the transaction that takes
//!   the delivery in, keyed by the delivery, so a repeated delivery never queues one twice.
//! - `sender`: any replica claims due pushes and posts them to OneSignal, retrying 5xx, 429 and
//!   timeouts with a doubling delay, failing for good after the configured attempts.
//!
//! Two of the platform's defects are fixed: a mention matches an email prefix literally (the
//! platform's SQL `LIKE` read `_` and `%` as wildcards) and only among members of the room's gym;
//! and both kinds of push address people by the same external id (`--push-external-id`), where
//! the platform used Auth0 ids for one and internal ids for the other.

pub(crate) mod sender;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use gymchat_ids::{GymId, UserId, UserIdForm, classify_user_id};
use gymchat_store::{GymRole, Room, Session, StoreError, User};
use secrecy::SecretString;
use serde_json::{Value, json};

/// Which id OneSignal knows a person by: the app registers one of them as its external id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalId {
    /// `user.auth0_id` (the platform's new-message push).
    Auth0,
    /// The internal user id, as a string.
    Internal,
}

/// Where and how pushes are sent.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// OneSignal's app id.
    pub app_id: String,
    /// OneSignal's REST API key (`Authorization: Basic <key>`).
    pub api_key: SecretString,
    /// OneSignal's address (`https://onesignal.com`); requests go to `{url}/api/v1/notifications`.
    pub url: String,
    /// The id people are addressed by.
    pub external_id: ExternalId,
    /// Attempts of a push before it is failed for good.
    pub attempts: i64,
    /// First retry delay (doubled each time, at most ten minutes).
    pub retry_base: std::time::Duration,
    /// How long one request to OneSignal may take.
    pub timeout: std::time::Duration,
}

impl PushConfig {
    /// OneSignal at its own address, people addressed by their Auth0 id, 8 attempts from 2 s.
    pub fn new(app_id: String, api_key: SecretString) -> Self {
        PushConfig {
            app_id,
            api_key,
            url: "https://onesignal.com".to_owned(),
            external_id: ExternalId::Auth0,
            attempts: 8,
            retry_base: std::time::Duration::from_secs(2),
            timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// A push to queue: its id within the delivery, its kind, and the OneSignal request without
/// the app id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planned {
    pub(crate) suffix: String,
    pub(crate) kind: &'static str,
    pub(crate) body: Value,
}

const EVENT_ROOM_WORDS: &[&str] = &["evento", "event", "clase", "class", "schedule"];
const EVENT_TEXT_WORDS: &[&str] = &[
    "clase",
    "sesion",
    "session",
    "entrenamiento",
    "training",
    "evento",
    "event",
    "reserva",
    "booking",
    "cancelar",
    "cancel",
    "horario",
    "schedule",
    "gimnasio",
    "gym",
    "instructor",
    "trainer",
];

/// `chat` or `event`, by the platform's keyword rule.
fn content_type(room: &Room, text: &str) -> &'static str {
    let name = room.name.as_deref().unwrap_or_default().to_lowercase();
    let text = text.to_lowercase();
    let event = EVENT_ROOM_WORDS.iter().any(|w| name.contains(w)) || EVENT_TEXT_WORDS.iter().any(|w| text.contains(w));
    if event { "event" } else { "chat" }
}

fn email_local(user: &User) -> &str {
    user.email.split('@').next().unwrap_or_default()
}

/// The sender's name as the platform writes it in a title.
fn sender_name(sender: &User) -> String {
    let part = |p: &Option<String>| p.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    match (part(&sender.first_name), part(&sender.last_name)) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        (Some(first), None) => first,
        _ if !email_local(sender).is_empty() => email_local(sender).to_owned(),
        _ => format!("Usuario {}", sender.id),
    }
}

/// The first `n` characters of `text`, and whether it was longer.
fn cut(text: &str, n: usize) -> (String, bool) {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(n).collect();
    (head, chars.next().is_some())
}

/// The `@word` tokens of a text, in order, duplicates kept.
fn mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let after = &rest[at + 1..];
        let word: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !word.is_empty() {
            out.push(word.clone());
        }
        rest = &after[word.len()..];
    }
    out
}

/// The person's external id, if they have one of that kind.
fn external(user: &User, kind: ExternalId) -> Option<String> {
    match kind {
        ExternalId::Auth0 => user.auth0_id.clone().filter(|s| !s.is_empty()),
        ExternalId::Internal => Some(user.id.get().to_string()),
    }
}

/// The OneSignal request of one push, without `app_id`.
fn request(to: &[String], title: &str, body: &str, data: Value) -> Value {
    json!({
        "include_external_user_ids": to,
        "channel_for_external_user_ids": "push",
        "headings": { "en": title, "es": title },
        "contents": { "en": body, "es": body },
        "data": data,
    })
}

/// The pushes a `message.new` delivery causes, for a message `text` that `sender` wrote in
/// `room` (both found in the database).
pub(crate) async fn plan(
    db: &mut Session,
    config: &PushConfig,
    event: &Value,
    room: &Room,
    sender: &User,
    text: &str,
) -> Result<Vec<Planned>, StoreError> {
    let gym = room.gym_id;
    let gym_name = db.gym(gym).await?.map(|g| g.name).filter(|n| !n.is_empty());
    let prefix = |title: String| match &gym_name {
        Some(name) => format!("{name}: {title}"),
        None => title,
    };
    let label = room.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "chat".to_owned());
    let mut planned = Vec::new();

    let kind = content_type(room, text);
    let authority = match kind {
        "event" => db
            .membership(sender.id, gym)
            .await?
            .is_some_and(|m| m.is_active == Some(true) && m.active_at(Utc::now()) && m.role.at_least(GymRole::Trainer)),
        _ => true,
    };
    if authority {
        let ids = recipients(event, gym, sender.id);
        let users = db.users(&ids).await?.rows;
        let to: Vec<String> = users.iter().filter_map(|u| external(u, config.external_id)).collect();
        if !to.is_empty() {
            let name = sender_name(sender);
            let title = match kind {
                "event" => format!("📅 {name} - Evento en {label}"),
                _ => format!("💬 {name} en {label}"),
            };
            let (head, longer) = cut(text, 100);
            let preview = if longer { format!("{head}...") } else { head };
            let mut data = json!({
                "type": if kind == "event" { "event_notification" } else { "chat_message" },
                "content_type": kind,
                "chat_room_id": room.id.get().to_string(),
                "channel_id": room.stream_channel_id,
                "sender_id": sender.id.get().to_string(),
                "message_preview": preview,
                "gym_id": gym.get(),
            });
            if let Some(name) = &gym_name {
                data["gym_name"] = json!(name);
            }
            planned.push(Planned {
                suffix: "message".to_owned(),
                kind: "message",
                body: request(&to, &prefix(title), &preview, data),
            });
        }
    }

    let tokens = mentions(text);
    if !tokens.is_empty() {
        let members = gym_members_of_room(db, room).await?;
        let (head, _) = cut(text, 80);
        for (n, token) in tokens.iter().enumerate() {
            let Some(target) = members.values().find(|u| u.email.starts_with(token.as_str()) && u.id != sender.id)
            else {
                continue;
            };
            let Some(to) = external(target, config.external_id) else { continue };
            let title = prefix(format!("🔔 {} te mencionó", email_local(sender)));
            let mut data = json!({
                "type": "chat_mention",
                "chat_room_id": room.id.get().to_string(),
                "stream_channel_id": room.stream_channel_id,
                "sender_id": sender.id.get().to_string(),
                "mentioned_user_id": target.id.get().to_string(),
                "gym_id": gym.get(),
            });
            if let Some(name) = &gym_name {
                data["gym_name"] = json!(name);
            }
            planned.push(Planned {
                suffix: format!("mention:{n}"),
                kind: "mention",
                body: request(&[to], &title, &format!("En {label}: {head}..."), data),
            });
        }
    }
    Ok(planned)
}

/// The members of the webhook's `members` list to notify: not the sender, unread messages,
/// offline, and known in the room's gym (`gym_{G}_user_{U}` of that gym, or a legacy `user_{U}`).
fn recipients(event: &Value, gym: GymId, sender: UserId) -> Vec<UserId> {
    let members = event.get("members").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut ids = Vec::new();
    for member in members {
        let user = member.get("user").cloned().unwrap_or(Value::Null);
        let unread = user.get("channel_unread_count").and_then(Value::as_i64).unwrap_or(0);
        let online = user.get("online").and_then(Value::as_bool).unwrap_or(false);
        if unread <= 0 || online {
            continue;
        }
        let id = member.get("user_id").and_then(Value::as_str).unwrap_or_default();
        let person = match classify_user_id(id) {
            UserIdForm::Target { gym: g, user } if g == gym => user,
            UserIdForm::Legacy { user } => user,
            _ => continue,
        };
        if person != sender && !ids.contains(&person) {
            ids.push(person);
        }
    }
    ids
}

/// The room's members who are active members of its gym, by id (lowest first).
async fn gym_members_of_room(db: &mut Session, room: &Room) -> Result<BTreeMap<UserId, User>, StoreError> {
    let ids = db.room_members(room.id).await?;
    let now = Utc::now();
    let active: BTreeSet<UserId> = db
        .memberships_of_gym(room.gym_id)
        .await?
        .rows
        .into_iter()
        .filter(|m| m.active_at(now))
        .map(|m| m.user_id)
        .collect();
    let wanted: Vec<UserId> = ids.into_iter().filter(|u| active.contains(u)).collect();
    Ok(db.users(&wanted).await?.rows.into_iter().map(|u| (u.id, u)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_the_words_after_each_at_sign_in_order() {
        assert_eq!(mentions("hola @ana_b y @carla, @ana_b!"), vec!["ana_b", "carla", "ana_b"]);
        assert!(mentions("mail me at @ or @@").is_empty());
        assert_eq!(mentions("@José hola"), vec!["José"]);
    }

    #[test]
    fn texts_are_cut_at_characters_not_bytes() {
        assert_eq!(cut("ñandú", 3), ("ñan".to_owned(), true));
        assert_eq!(cut("abc", 3), ("abc".to_owned(), false));
    }

    #[test]
    fn only_the_members_to_notify_are_recipients() {
        let gym = GymId::new(4).unwrap();
        let sender = UserId::new(8).unwrap();
        let event = json!({ "members": [
            { "user_id": "gym_4_user_8", "user": { "channel_unread_count": 3, "online": false } },
            { "user_id": "gym_4_user_10", "user": { "channel_unread_count": 1, "online": false } },
            { "user_id": "gym_4_user_11", "user": { "channel_unread_count": 0, "online": false } },
            { "user_id": "gym_4_user_17", "user": { "channel_unread_count": 2, "online": true } },
            { "user_id": "gym_5_user_21", "user": { "channel_unread_count": 2, "online": false } },
            { "user_id": "user_30", "user": { "channel_unread_count": 2 } },
            { "user_id": "gym_4_user_12", "channel_unread_count": 5 },
        ]});
        let ids: Vec<i64> = recipients(&event, gym, sender).into_iter().map(UserId::get).collect();
        assert_eq!(ids, vec![10, 30]);
    }
}
