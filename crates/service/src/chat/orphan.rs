//! `DELETE /chat/channels/orphan/{channel_id}` (APP_CONTRACT C27): a Stream channel that no room
//! of the database points at, deleted by its owner, with the platform's rules and answers: not
//! an event channel, the gym's team, the caller its creator. Where the platform compared the
//! database with the raw path value only, gymchat looks for both forms (`type:id` and the bare
//! id), so a channel a room still uses is never deleted here.

use axum::Json;
use axum::extract::{Path, State};
use gymchat_ids::{ChannelId, ChannelType, Cid};
use serde_json::{Value, json};

use crate::auth::{GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::provision;
use crate::state::AppState;

/// `DELETE /chat/channels/orphan/{channel_id}` (`resource:write`): `type:id` or a bare id (type
/// `messaging`).
#[utoipa::path(delete, path = "/api/v1/chat/channels/orphan/{channel_id}", tag = "chat", params(GymHeader, ("channel_id" = String, Path, description = "`type:id` or a bare id (type `messaging`)")), responses((status = 200, description = "done", body = Object), Refusals), security(("bearer" = [])))]
pub(crate) async fn delete_orphan(
    State(s): State<AppState>,
    caller: GymCaller,
    Path(channel): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.allow(Level::Member, Scope::Write)?;
    let gym = caller.gym_id();
    let (kind, id) = channel.split_once(':').unwrap_or(("messaging", channel.as_str()));
    let not_in_stream = || ApiError::not_found(format!("Canal {channel} no encontrado en Stream"));
    let cid = ChannelType::parse(kind)
        .and_then(|t| ChannelId::parse(id).map(|id| Cid::new(t, id)))
        .map_err(|_| not_in_stream())?;
    let forms = [cid.id().as_str().to_owned(), cid.to_string()];
    let pointing = s.store().session().await?.rooms_by_channel_ids(&forms).await?;
    if !pointing.rows.is_empty() || !pointing.skipped.is_empty() {
        return Err(ApiError::conflict(
            "El canal existe en la base de datos. Usa el endpoint DELETE /rooms/{room_id} para eliminarlo.",
        ));
    }
    let found = provision::stream_channel(s.stream(), &cid).await.map_err(|e| {
        tracing::warn!(%cid, error = %e, "the channel could not be read");
        ApiError::bad_request("Error accediendo al canal: el proveedor de chat no respondió")
    })?;
    let found = found.ok_or_else(not_in_stream)?;
    let expected = format!("gym_{gym}");
    let team = found.team.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_else(|| "None".to_owned());
    if team != expected {
        return Err(ApiError::forbidden(format!(
            "El canal pertenece a otro gimnasio. Canal team: {team}, gym esperado: {expected}"
        )));
    }
    if cid.id().as_str().starts_with("event_") {
        return Err(ApiError::forbidden(
            "Los canales de eventos no pueden eliminarse manualmente. Se gestionan automáticamente por el sistema.",
        ));
    }
    let me = caller.stream_id();
    let members = provision::channel_members(s.stream(), &cid).await?;
    let Some(member) = members.iter().find(|m| m.user_id == me) else {
        return Err(ApiError::forbidden(
            "No eres miembro de este canal. Solo el creador puede eliminar canales huérfanos.",
        ));
    };
    // Stream calls the channel's creator its owner.
    if found.created_by.as_ref().map(|u| &u.id) != Some(&me) {
        let role = member.channel_role.as_deref().unwrap_or("channel_member");
        return Err(ApiError::forbidden(format!(
            "Solo el creador (owner) puede eliminar canales huérfanos. Tu rol actual: {role}"
        )));
    }
    s.stream().delete_channel(&cid, false).await.map_err(|e| {
        tracing::warn!(%cid, error = %e, "the orphan channel could not be deleted");
        ApiError::bad_request("Error eliminando el canal de Stream: el proveedor de chat lo rechazó")
    })?;
    Ok(Json(json!({ "success": true, "message": "Canal huérfano eliminado correctamente" })))
}
