//! `gymchat audit`: compares the database with Stream for some gyms or all, writes the versioned
//! JSON report (and, on request, the HTML page), prints a compact summary on stderr, and exits 0
//! (all synced and clean), 1 (findings) or 2 (the audit could not complete).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use gymchat_ids::GymId;
use gymchat_ops::audit::{self, AuditReport, Stage, html};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::args::AuditArgs;

/// Runs the audit; returns the JSON for stdout and the exit code.
pub async fn run(args: &AuditArgs) -> Result<(serde_json::Value, u8)> {
    let stream = args.ops.client()?;
    let store = args.ops.db.open().await?;
    let gyms: Vec<GymId> = args.gyms.resolve(&store).await?;

    let bar = progress_bar(gyms.len());
    let report = audit::audit(&store, &stream, &gyms, &|stage| {
        if let Some(bar) = &bar {
            match stage {
                Stage::Database(g) => bar.set_message(format!("gym {g}: reading the database")),
                Stage::Stream(g) => bar.set_message(format!("gym {g}: reading Stream")),
                Stage::Done(_) => bar.inc(1),
            }
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    store.close().await;

    eprint!("{}", summary(&report));
    let text = serde_json::to_string_pretty(&report)?;
    let mut out = json!({ "complete": report.complete, "exit_code": report.exit_code() });
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report)).with_context(|| format!("cannot write {}", path.display()))?;
        out["html"] = json!(path.display().to_string());
    }
    if args.json {
        return Ok((serde_json::to_value(&report)?, report.exit_code()));
    }
    let path = args.out.clone().unwrap_or_else(|| PathBuf::from(audit::default_file_name(&gyms, report.generated_at)));
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    out["report"] = json!(path.display().to_string());
    Ok((out, report.exit_code()))
}

/// A bar on stderr, only when stderr is a terminal.
fn progress_bar(gyms: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(gyms as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} gyms {msg}") {
        bar.set_style(style);
    }
    Some(bar)
}

/// The compact human summary: one line per gym, then what blocks completeness.
fn summary(report: &AuditReport) -> String {
    let mut s = String::new();
    for g in &report.gyms {
        let m = &g.summary;
        s.push_str(&format!(
            "gym {}: {} synced, {} stream-only, {} db-only ({}% synced) of {} channels and {} rooms; {} findings; \
             {} archived, {} retired{}\n",
            g.gym_id,
            m.synced,
            m.stream_only,
            m.db_only,
            m.synced_pct,
            m.total_stream_channels,
            m.total_db_chatrooms,
            g.findings.len(),
            m.archived,
            m.retired,
            if g.complete { "" } else { "; INCOMPLETE: no destructive recommendation" },
        ));
        for p in g.sources.db.problems.iter().chain(&g.sources.stream.problems) {
            s.push_str(&format!("  could not read: {p}\n"));
        }
    }
    s
}
