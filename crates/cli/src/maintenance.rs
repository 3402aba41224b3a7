//! `gymchat maintenance on|off|status --gym-id N`: a gym's maintenance window by hand (a
//! migration opens and ends its own for each gym's channel phase).

use anyhow::Result;
use serde_json::{Value, json};

use crate::args::MaintenanceCommand;

/// Who opens a window by hand.
const BY_HAND: &str = "gymchat maintenance";

/// Runs the command; returns the JSON for stdout.
pub async fn run(command: &MaintenanceCommand) -> Result<Value> {
    match command {
        MaintenanceCommand::On { db, gym_id, minutes, reason } => {
            let store = db.open().await?;
            let mut s = store.session().await?;
            s.gym(*gym_id).await?.ok_or_else(|| anyhow::anyhow!("gym {gym_id} does not exist in the database"))?;
            s.set_maintenance(*gym_id, chrono::Duration::minutes(i64::from(*minutes)), reason, BY_HAND).await?;
            let window = s.maintenance(*gym_id).await?;
            eprintln!("gym {gym_id}: maintenance on for {minutes} minutes ({reason})");
            Ok(json!({ "gym_id": gym_id.get(), "maintenance": window }))
        }
        MaintenanceCommand::Off { db, gym_id } => {
            let store = db.open().await?;
            let ended = store.session().await?.clear_maintenance(*gym_id, None).await?;
            eprintln!("gym {gym_id}: {}", if ended { "maintenance off" } else { "was not in maintenance" });
            Ok(json!({ "gym_id": gym_id.get(), "ended": ended }))
        }
        MaintenanceCommand::Status { db, gym_id } => {
            let store = db.open().await?;
            let window = store.session().await?.maintenance(*gym_id).await?;
            Ok(json!({ "gym_id": gym_id.get(), "maintenance": window }))
        }
    }
}
