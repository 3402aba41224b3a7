//! The service and the migration write a gym's channel data the same way: for a room they each
//! make, team `gym_{G}` and `gym_id` as the string `"{G}"` (the tenant rules of
//! `gymchat-tenant`, which both call).

use chrono::Utc;
use gymchat_ids::GymId;
use gymchat_ops::migrate::{self, ApplyOptions, History, Options, Strategy};
use gymchat_testkit::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

mod support;

use support::*;

/// The fields of a channel that the tenant rules decide.
fn tenant_fields(channel: &Value) -> Value {
    json!({ "team": channel["team"], "gym_id": channel["gym_id"] })
}

on_both_backends!(
    async fn the_service_and_the_migration_write_the_same_tenant_data_for_a_room(db) {
        let app = spawn_app(&db).await;
        // A group room the service creates.
        let (status, room) = app.post("/api/v1/chat/rooms", ANA, 4, Some(json!({ "name": "Yoga", "member_ids": [8] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{room}");
        let made = app.stream_channel(room["stream_channel_id"].as_str().unwrap()).await.unwrap();
        // A group room the migration moves (the General room 639 of the reference scenario).
        let gym = GymId::new(4).unwrap();
        let options = Options { strategy: Strategy::Rebuild, history: History::None, rehost_attachments: false };
        let plan = migrate::plan::plan(&app.store, &app.stream, &[gym], options, Utc::now()).await.unwrap();
        let report = migrate::apply(&app.store, &app.stream, &plan, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let moved = app.stream_channel("room_4_639").await.unwrap();

        assert_eq!(tenant_fields(&made), json!({ "team": "gym_4", "gym_id": "4" }));
        assert_eq!(tenant_fields(&moved), tenant_fields(&made));
    }
);
