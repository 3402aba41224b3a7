//! `gymchat cleanup`: a fresh audit, the plan it gives, and with `--yes` the plan carried out.
//! Prints `{"mode": "dry_run"|"applied", …}`; exits 0 when everything planned was done (or only
//! planned), 1 when an action failed or was refused, 2 when it could not run (an incomplete audit
//! included: cleanup does nothing then).

use anyhow::{Context, Result};
use gymchat_ids::GymId;
use gymchat_ops::audit::{self, AuditReport};
use gymchat_ops::cleanup::{self, Options};
use gymchat_store::Store;
use gymchat_stream::Client;
use serde_json::{Value, json};

use crate::args::{CleanupArgs, CleanupCommand};

/// Runs the command; returns the JSON for stdout and the exit code.
pub async fn run(args: &CleanupArgs) -> Result<(Value, u8)> {
    let (store, stream, plan, yes, options) = match &args.command {
        Some(CleanupCommand::Undo { db, run_id }) => {
            let undone = cleanup::undo(&db.open().await?, run_id).await?;
            return Ok((serde_json::to_value(&undone)?, 0));
        }
        Some(CleanupCommand::Channel { ops, cid, yes, hard, include_with_messages }) => {
            let (store, stream) = (ops.db.open().await?, ops.client()?);
            let options = Options { hard: *hard, include_with_messages: *include_with_messages, remove_rooms: false };
            let plan = cleanup::plan_for_channel(&store, &stream, cid, options).await?;
            (store, stream, plan, *yes, options)
        }
        None => {
            let (store, stream) = (args.ops.db.open().await?, args.ops.client()?);
            let options = Options {
                hard: args.hard,
                include_with_messages: args.include_with_messages,
                remove_rooms: args.remove_rooms,
            };
            let gyms: Vec<GymId> = args.gyms.resolve(&store).await?;
            let report = audit::audit(&store, &stream, &gyms, &|_| {}).await?;
            let mut plan = cleanup::plan::plan(&report, options);
            if let Some(path) = &args.from_report {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                let old: AuditReport = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not an audit report", path.display()))?;
                cleanup::restrict_to(&mut plan, &cleanup::plan::plan(&old, options));
            }
            (store, stream, plan, args.yes, options)
        }
    };
    carry_out(&store, &stream, plan, yes, options).await
}

/// Prints the plan, or with `yes` carries it out.
async fn carry_out(
    store: &Store,
    stream: &Client,
    plan: cleanup::Plan,
    yes: bool,
    options: Options,
) -> Result<(Value, u8)> {
    if !plan.complete {
        eprintln!("cleanup does nothing: the audit it rests on could not read everything");
        return Ok((json!({ "mode": "refused", "plan": plan }), 2));
    }
    if !yes {
        eprintln!(
            "dry run: {} action(s), {} refused; add --yes to carry them out",
            plan.actions.len(),
            plan.refused.len()
        );
        let code = u8::from(!plan.refused.is_empty());
        return Ok((json!({ "mode": "dry_run", "plan": plan }), code));
    }
    let applied = cleanup::apply(store, stream, &plan, options).await?;
    eprintln!(
        "run {}: {} done, {} failed, {} refused; undo its database changes with `gymchat cleanup undo {}`",
        applied.run_id,
        applied.outcomes.iter().filter(|o| o.state == gymchat_store::ActionState::Done).count(),
        applied.outcomes.iter().filter(|o| o.state != gymchat_store::ActionState::Done).count(),
        applied.refused.len(),
        applied.run_id
    );
    let code = u8::from(!applied.all_done());
    Ok((json!({ "mode": "applied", "run": applied }), code))
}
