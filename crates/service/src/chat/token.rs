//! `GET /chat/token`: the caller's Stream user token for this gym.

use axum::Json;
use axum::extract::State;
use chrono::{SecondsFormat, Utc};
use gymchat_stream::user_token;

use crate::auth::{GymCaller, Level};
use crate::docs::{GymHeader, Refusals};
use crate::error::{ApiError, ApiResult};
use crate::identity::Scope;
use crate::provision;
use crate::shapes::TokenAnswer;
use crate::state::AppState;

/// The caller's Stream identity is upserted again after this long even when nothing changed.
const RESYNC_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// `GET /chat/token`: a Stream user token for the caller's identity in this gym. The identity is
/// upserted with the gym's team (a partial update that keeps name and avatar) when the person's
/// name, avatar or team changed since the last upsert, or a day has passed: usually the token
/// needs one database statement and no call to Stream.
#[utoipa::path(get, path = "/api/v1/chat/token", tag = "chat", params(GymHeader), responses((status = 200, description = "done", body = TokenAnswer), Refusals), security(("bearer" = [])))]
pub(crate) async fn token(State(s): State<AppState>, caller: GymCaller) -> ApiResult<Json<TokenAnswer>> {
    caller.allow(Level::Member, Scope::Read)?;
    let gym = caller.gym_id();
    let now = Utc::now();
    let fingerprint = provision::fingerprint(gym, &caller.user);
    let fresh =
        caller.stream_synced.as_ref().is_some_and(|(sent, at)| *sent == fingerprint && now - *at < RESYNC_AFTER);
    if !fresh {
        provision::ensure_caller(s.stream(), gym, &caller.user).await?;
        s.store().session().await?.record_stream_user(gym, caller.user_id(), &fingerprint, now).await?;
    }
    let id = caller.stream_id();
    let expires = now + s.config().token_ttl;
    let token = user_token(&s.config().stream_secret, &id, now, Some(expires)).map_err(ApiError::from)?;
    Ok(Json(TokenAnswer {
        token,
        api_key: s.config().stream_key.clone(),
        internal_user_id: caller.user_id().get(),
        stream_user_id: id.as_str().to_owned(),
        expires_at: expires.to_rfc3339_opts(SecondsFormat::Secs, true),
        gym_id: gym.get(),
    }))
}
