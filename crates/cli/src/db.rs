//! `gymchat db migrate` and `gymchat db load-fixture`.

use anyhow::{Context, Result};
use gymchat_store::DbFixture;
use serde_json::json;

use crate::args::DbCommand;

/// Runs a `db` subcommand and returns its JSON report.
pub async fn run(command: &DbCommand) -> Result<serde_json::Value> {
    match command {
        DbCommand::Migrate { db } => {
            let (store, target) = (db.open().await?, db.shown());
            store.close().await;
            Ok(
                json!({ "database": target, "backend": format!("{:?}", store.backend()).to_lowercase(), "migrated": true }),
            )
        }
        DbCommand::LoadFixture { db, path } => {
            let target = db.shown();
            // Read and parse before touching the database, so a broken file changes nothing.
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let fixture = DbFixture::from_json(&text).with_context(|| format!("cannot load {}", path.display()))?;
            let store = db.open().await?;
            let report = store
                .load_fixture(&fixture)
                .await
                .with_context(|| format!("cannot load {} into {target}", path.display()))?;
            store.close().await;
            let tables: serde_json::Map<String, serde_json::Value> =
                report.tables.iter().map(|(t, n)| ((*t).to_owned(), json!(n))).collect();
            Ok(json!({ "database": target, "fixture": path.display().to_string(), "loaded": tables }))
        }
    }
}
