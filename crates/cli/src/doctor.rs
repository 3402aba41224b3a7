//! `gymchat doctor`: whether this database and this Stream app are ready, before anyone migrates
//! or serves. Every check reads and changes nothing (the database is opened read-only: no
//! migration runs); each says what to do when it is not. Exit 0 ready, 1 something to fix, 2
//! something could not be checked (and nothing to fix was found).

use anyhow::Result;
use gymchat_store::{Readiness, Store};
use gymchat_stream::Client;
use gymchat_stream::pacing::documented_limit;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::DoctorArgs;

/// The operations whose limits bound a migration and the service.
const PACED: &[&str] = &[
    "UpdateUsers",
    "QueryUsers",
    "QueryChannels",
    "GetOrCreateChannel",
    "UpdateChannel",
    "SendMessage",
    "SendReaction",
    "MarkRead",
];

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    Fix,
    CouldNotCheck,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    todo: Option<String>,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>, todo: Option<&str>) -> Check {
    Check { name, status, detail: detail.into(), todo: todo.map(str::to_owned) }
}

/// Runs every check; answers the report and the exit code.
pub async fn run(args: &DoctorArgs) -> Result<(Value, u8)> {
    let mut checks = stream_checks(args).await;
    checks.extend(database_checks(args).await);
    let code = if checks.iter().any(|c| c.status == Status::Fix) {
        1
    } else if checks.iter().any(|c| c.status == Status::CouldNotCheck) {
        2
    } else {
        0
    };
    if !args.json {
        for c in &checks {
            let mark = match c.status {
                Status::Ok => "ok ",
                Status::Fix => "FIX",
                Status::CouldNotCheck => "?? ",
            };
            eprintln!("{mark} {}: {}", c.name, c.detail);
            if let Some(todo) = &c.todo {
                eprintln!("    → {todo}");
            }
        }
    }
    let ready = code == 0;
    Ok((json!({ "ready": ready, "checks": checks }), code))
}

async fn stream_checks(args: &DoctorArgs) -> Vec<Check> {
    let client = match args.stream.client_config().and_then(|c| Ok(Client::new(c)?)) {
        Ok(client) => client,
        Err(e) => {
            let todo = Some("set --stream-key and --stream-secret (STREAM_KEY, STREAM_SECRET)");
            return vec![check("stream.credentials", Status::Fix, format!("{e:#}"), todo)];
        }
    };
    let app = match client.get_app().await {
        Ok(app) => app.body,
        Err(e) if matches!(e.status(), Some(401 | 403)) => {
            let todo = Some("use the key and secret of this Stream app (dashboard, app settings)");
            return vec![check("stream.credentials", Status::Fix, format!("Stream refused them: {e}"), todo)];
        }
        Err(e) => return vec![check("stream.credentials", Status::CouldNotCheck, format!("{e}"), None)],
    };
    let mut checks = vec![check("stream.credentials", Status::Ok, format!("{} answers", args.stream.stream_url), None)];
    checks.push(if app.multi_tenant_enabled {
        check(
            "stream.multi_tenant",
            Status::Ok,
            "multi-tenancy is on: a gym's users see only its team's channels",
            None,
        )
    } else {
        check(
            "stream.multi_tenant",
            Status::Fix,
            "multi-tenancy is off: nothing keeps one gym's users out of another's channels",
            Some(
                "turn multi_tenant_enabled on (Stream dashboard or PATCH /app); users without teams then lose \
                 their team channels, so migrate every gym first (gymchat migrate apply --all)",
            ),
        )
    });
    checks.push(match app.channel_configs.get("messaging") {
        Some(c) if c.read_events => {
            let commands: Vec<&str> = c.commands.iter().filter_map(|c| c["name"].as_str()).collect();
            let detail = format!("messaging keeps read state; its commands: {}", commands.join(", "));
            check("stream.channel_type", Status::Ok, detail, None)
        }
        Some(_) => check(
            "stream.channel_type",
            Status::Fix,
            "messaging keeps no read state (read_events off): unread counts cannot be carried",
            Some("turn read_events on for the messaging channel type"),
        ),
        None => check("stream.channel_type", Status::CouldNotCheck, "the app's settings name no messaging type", None),
    });
    checks.push(webhook_check(&app.webhook_url));
    checks.push(match client.rate_limits().await {
        Ok(limits) => {
            let lower: Vec<String> = PACED
                .iter()
                .filter_map(|op| limits.get(*op).map(|l| (op, l.limit)))
                .filter(|(op, limit)| *limit < documented_limit(op))
                .map(|(op, limit)| format!("{op} {limit}/min (documented {})", documented_limit(op)))
                .collect();
            let detail = if lower.is_empty() {
                format!("{} operations limited, none below Stream's documented defaults", limits.len())
            } else {
                format!("below the documented defaults: {}; runs take longer", lower.join(", "))
            };
            check("stream.rate_limits", Status::Ok, detail, None)
        }
        Err(e) => check("stream.rate_limits", Status::CouldNotCheck, format!("{e}"), None),
    });
    checks
}

/// The path Stream must post the app's events to (the platform's, and the service's, new-message
/// webhook: APP_CONTRACT.md §4).
const WEBHOOK_PATH: &str = "/api/v1/webhooks/stream/new-message";

/// Whether Stream posts the app's events to a new-message webhook.
fn webhook_check(url: &str) -> Check {
    let todo = format!("set the app's webhook_url to the chat service's {WEBHOOK_PATH}");
    if url.is_empty() {
        let detail = "no webhook URL: Stream tells no service of new messages (no push notifications)";
        check("stream.webhook", Status::Fix, detail, Some(&todo))
    } else if url.split('?').next().unwrap_or_default().ends_with(WEBHOOK_PATH) {
        check("stream.webhook", Status::Ok, format!("Stream posts the app's events to {url}"), None)
    } else {
        let detail = format!("Stream posts the app's events to {url}, which is not a new-message webhook");
        check("stream.webhook", Status::Fix, detail, Some(&todo))
    }
}

async fn database_checks(args: &DoctorArgs) -> Vec<Check> {
    let shown = args.db.shown();
    let readiness: Readiness = match Store::readiness(args.db.database_url.expose_secret()).await {
        Ok(r) => r,
        Err(e) => return vec![check("database.reachable", Status::CouldNotCheck, format!("{shown}: {e}"), None)],
    };
    let mut checks = vec![check("database.reachable", Status::Ok, format!("{shown} ({:?})", readiness.backend), None)];
    checks.push(if readiness.pending_migrations.is_empty() {
        check("database.migrations", Status::Ok, "every gymchat migration is applied", None)
    } else {
        let detail = format!("not applied: {}", readiness.pending_migrations.join(", "));
        check("database.migrations", Status::Fix, detail, Some("run gymchat db migrate"))
    });
    checks.push(if readiness.missing.is_empty() {
        check("database.platform_tables", Status::Ok, "the platform tables have every column gymchat reads", None)
    } else {
        let detail = format!("missing: {}", readiness.missing.join(", "));
        let todo = "point DATABASE_URL at the platform's database (gymchat db migrate creates missing tables only on an empty one)";
        check("database.platform_tables", Status::Fix, detail, Some(todo))
    });
    checks.push(if readiness.member_indexes.is_empty() {
        let detail = "no index on chat_members (user_id, room_id): every GET /chat/my-rooms scans the member table";
        check(
            "database.member_index",
            Status::Fix,
            detail,
            Some("run gymchat db migrate (it adds gymchat_chat_members_user)"),
        )
    } else {
        check("database.member_index", Status::Ok, readiness.member_indexes.join(", "), None)
    });
    checks
}
