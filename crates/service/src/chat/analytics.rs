//! The admin dashboard's chat figures (APP_CONTRACT C7–C12), computed from the database with the
//! platform's keys. Where the platform's answer was broken (C10 and C12 always answered an
//! `error` object; C8 and C10 turned their own 403/404 into 500s) the intended answer is given.
//! Every figure stays inside the request's gym: C8 counts another member's rooms of this gym
//! only (the platform counted every gym's, which told one gym about another).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{Duration, Timelike, Utc};
use gymchat_ids::{EventId, RoomId, UserId};
use gymchat_store::{RoomWithMembers, Session};
use serde_json::{Value, json};

use crate::access::path_id;
use crate::auth::{GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::params::{QueryMap, query_int};
use crate::shapes::naive;
use crate::state::AppState;

/// The gym's rooms with their members, any status; rows that cannot be read are logged and left
/// out of the figures.
async fn gym_rooms(db: &mut Session, caller: &GymCaller) -> ApiResult<Vec<RoomWithMembers>> {
    let rooms = db.rooms_with_members(caller.gym_id()).await?;
    for bad in &rooms.skipped {
        tracing::warn!(table = bad.table, key = %bad.key, reason = %bad.reason, "room row left out of the figures");
    }
    Ok(rooms.rows)
}

fn updated_within(room: &RoomWithMembers, days: i64) -> bool {
    room.room.updated_at.is_some_and(|t| t >= Utc::now() - Duration::days(days))
}

/// `GET /chat/analytics/gym-summary` (ADMIN, OWNER).
#[utoipa::path(get, path = "/api/v1/chat/analytics/gym-summary", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn gym_summary(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    caller.allow(Level::Admin, Scope::Admin)?;
    let rooms = gym_rooms(&mut s.store().session().await?, &caller).await?;
    let members: BTreeSet<UserId> = rooms.iter().flat_map(|r| r.members.iter().copied()).collect();
    let mut busiest: Vec<&RoomWithMembers> = rooms.iter().collect();
    busiest.sort_by_key(|r| std::cmp::Reverse(r.members.len()));
    let most_active: Vec<Value> = busiest
        .iter()
        .take(5)
        .map(|r| {
            json!({
                "room_id": r.room.id.get(),
                "name": r.room.name,
                "is_direct": r.room.is_direct,
                "member_count": r.members.len(),
                "updated_at": r.room.updated_at.map(naive),
            })
        })
        .collect();
    let mut answer = json!({
        "gym_id": caller.gym_id().get(),
        "total_rooms": rooms.len(),
        "total_members": members.len(),
        "active_rooms": rooms.iter().filter(|r| updated_within(r, 7)).count(),
        "direct_chats": rooms.iter().filter(|r| r.room.is_direct).count(),
        "event_chats": rooms.iter().filter(|r| r.room.event_id.is_some()).count(),
        "most_active_rooms": most_active,
    });
    if !rooms.is_empty() {
        answer["generated_at"] = json!(naive(Utc::now()));
    }
    Ok(Json(answer))
}

/// `GET /chat/analytics/user-activity?user_id=` (any member): a member's rooms of this gym.
#[utoipa::path(get, path = "/api/v1/chat/analytics/user-activity", tag = "chat", params(GymHeader, ("user_id" = Option<i64>, Query, description = "whose activity (default, and 0: the caller)")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn user_activity(
    State(s): State<AppState>,
    caller: GymCaller,
    Query(q): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Member, Scope::Read)?;
    let asked = query_int(&q, "user_id", None, None)?.filter(|id| *id != 0);
    let mut db = s.store().session().await?;
    let target = match asked {
        None => caller.user.clone(),
        Some(id) => {
            let id = UserId::try_from(id).map_err(|_| ApiError::not_found("Usuario no encontrado"))?;
            let user = db.user(id).await?.ok_or_else(|| ApiError::not_found("Usuario no encontrado"))?;
            if db.membership(user.id, caller.gym_id()).await?.is_none() {
                return Err(ApiError::forbidden(
                    "No puedes consultar la actividad de un usuario que no pertenece a tu gimnasio",
                ));
            }
            user
        }
    };
    let rooms: Vec<RoomWithMembers> =
        gym_rooms(&mut db, &caller).await?.into_iter().filter(|r| r.members.contains(&target.id)).collect();
    let direct = rooms.iter().filter(|r| r.room.is_direct).count();
    Ok(Json(json!({
        "user_id": target.id.get(),
        "user_email": target.email,
        "total_chats": rooms.len(),
        "direct_chats": direct,
        "group_chats": rooms.len() - direct,
        "gym_distribution": { caller.gym_id().get().to_string(): rooms.len() },
        "recent_activity": rooms.iter().filter(|r| updated_within(r, 30)).count(),
        "generated_at": naive(Utc::now()),
    })))
}

/// `GET /chat/analytics/popular-times?days=30` (ADMIN, OWNER): the gym's rooms by the hour of
/// their last activity within `days` (1 to 90).
#[utoipa::path(get, path = "/api/v1/chat/analytics/popular-times", tag = "chat", params(GymHeader, ("days" = Option<i64>, Query, description = "the period, 1 to 90 days (default 30)")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn popular_times(
    State(s): State<AppState>,
    caller: GymCaller,
    Query(q): Query<QueryMap>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Admin, Scope::Admin)?;
    let days = query_int(&q, "days", Some(30), Some((1, 90)))?.unwrap_or(30);
    let rooms = gym_rooms(&mut s.store().session().await?, &caller).await?;
    let mut hours = [0_usize; 24];
    for room in rooms.iter().filter(|r| updated_within(r, days)) {
        if let Some(t) = room.room.updated_at {
            hours[t.hour() as usize] += 1;
        }
    }
    let mut peaks: Vec<(usize, usize)> = hours.iter().copied().enumerate().collect();
    peaks.sort_by_key(|(hour, n)| (std::cmp::Reverse(*n), *hour));
    let distribution: BTreeMap<String, usize> = hours.iter().enumerate().map(|(h, n)| (h.to_string(), *n)).collect();
    Ok(Json(json!({
        "gym_id": caller.gym_id().get(),
        "analysis_period_days": days,
        "hourly_distribution": distribution,
        "peak_hours": peaks.iter().take(3).map(|(h, n)| json!({ "hour": h.to_string(), "activity": n })).collect::<Vec<_>>(),
        "total_activity": hours.iter().sum::<usize>(),
        "generated_at": naive(Utc::now()),
    })))
}

/// `GET /chat/analytics/event-effectiveness/{event_id}` (any member): the event's chat against
/// its registered participants (the platform's intended answer; its own always failed).
#[utoipa::path(get, path = "/api/v1/chat/analytics/event-effectiveness/{event_id}", tag = "chat", params(GymHeader, ("event_id" = i64, Path, description = "the event")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn event_effectiveness(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(event): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Member, Scope::Read)?;
    let event: EventId = path_id(&event, "event_id")?;
    let mut db = s.store().session().await?;
    let event = db.event(event).await?.ok_or_else(|| ApiError::not_found("Evento no encontrado"))?;
    if event.gym_id != caller.gym_id() {
        return Err(ApiError::forbidden("No tienes acceso a este evento - pertenece a otro gimnasio"));
    }
    let registered = db.participations(event.id).await?.rows.iter().filter(|p| p.holds_place()).count();
    // The event's room (its oldest, as the gym's list finds it first) and its members only.
    let room = db.rooms_of_event(event.gym_id, event.id).await?.rows.into_iter().next();
    let members = match &room {
        Some(r) => db.room_members(r.id).await?.len(),
        None => 0,
    };
    let rate = if registered == 0 { 0.0 } else { (members as f64 * 1000.0 / registered as f64).round() / 10.0 };
    Ok(Json(json!({
        "event_id": event.id.get(),
        "event_name": event.title.as_deref().unwrap_or("N/A"),
        "has_chat": room.is_some(),
        "chat_room_id": room.as_ref().map(|r| r.id.get()),
        "total_members": members,
        "participation_rate": rate,
        "chat_created_at": room.as_ref().and_then(|r| r.created_at).map(naive),
        "last_activity": room.as_ref().and_then(|r| r.updated_at).map(naive),
        "is_active": room.as_ref().is_some_and(gymchat_store::Room::is_active),
        "generated_at": naive(Utc::now()),
    })))
}

/// `GET /chat/analytics/health-metrics` (ADMIN, OWNER): abandoned and thin rooms, and a score.
#[utoipa::path(get, path = "/api/v1/chat/analytics/health-metrics", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn health_metrics(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<Value>> {
    caller.allow(Level::Admin, Scope::Admin)?;
    let rooms = gym_rooms(&mut s.store().session().await?, &caller).await?;
    let total = rooms.len();
    let abandoned = rooms.iter().filter(|r| !updated_within(r, 30)).count();
    let thin = rooms.iter().filter(|r| r.members.len() < 2).count();
    let score = if total == 0 {
        json!(100)
    } else {
        let raw = 100.0 - 30.0 * abandoned as f64 / total as f64 - 20.0 * thin as f64 / total as f64;
        json!((raw.max(0.0) * 10.0).round() / 10.0)
    };
    let mut recommendations = Vec::new();
    if abandoned > 0 {
        recommendations.push(format!("Considera limpiar {abandoned} salas abandonadas"));
    }
    if total > 0 && thin * 2 > total {
        recommendations.push("Muchas salas tienen baja participación, considera estrategias de engagement".to_owned());
    }
    if score.as_f64().is_some_and(|s| s > 80.0) {
        recommendations.push("¡Sistema de chat en excelente estado!".to_owned());
    }
    Ok(Json(json!({
        "gym_id": caller.gym_id().get(),
        "total_rooms": total,
        "abandoned_rooms": abandoned,
        "low_engagement_rooms": thin,
        "health_score": score,
        "recommendations": recommendations,
        "generated_at": naive(Utc::now()),
    })))
}

/// `GET /chat/rooms/{room_id}/stats` (members of the room): the room's figures (the platform's
/// intended answer; its own always failed).
#[utoipa::path(get, path = "/api/v1/chat/rooms/{room_id}/stats", tag = "chat", params(GymHeader, ("room_id" = i64, Path, description = "the room")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn room_stats(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(room): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Member, Scope::Read)?;
    let room: RoomId = path_id(&room, "room_id")?;
    let mut db = s.store().session().await?;
    let room = db.room(room).await?.ok_or_else(|| ApiError::not_found("Sala de chat no encontrada"))?;
    if room.gym_id != caller.gym_id() {
        return Err(ApiError::forbidden("No tienes acceso a esta sala de chat - pertenece a otro gimnasio"));
    }
    let members = db.room_members(room.id).await?;
    if !members.contains(&caller.user_id()) {
        return Err(ApiError::forbidden("No tienes acceso a esta sala de chat"));
    }
    Ok(Json(json!({
        "room_id": room.id.get(),
        "name": room.name,
        "is_direct": room.is_direct,
        "member_count": members.len(),
        "created_at": room.created_at.map(naive),
        "updated_at": room.updated_at.map(naive),
        "stream_channel_id": room.stream_channel_id,
    })))
}
