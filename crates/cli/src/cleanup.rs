//! `gymchat cleanup`: a fresh audit, the plan it gives, and with `--yes` the plan carried out.
//! Prints `{"mode": "dry_run"|"applied", …}`; exits 0 when everything planned was done (or only
//! planned), 1 when an action failed or was refused, 2 when it could not run (an incomplete audit
//! included: cleanup does nothing then).

use anyhow::{Context, Result, bail};
use gymchat_ids::GymId;
use gymchat_ops::audit::{self, AuditReport};
use gymchat_ops::cleanup::{self, Options};
use gymchat_store::{Store, redact_url};
use serde_json::{Value, json};

use crate::config::{CleanupArgs, CleanupCommand, GlobalOpts};
use crate::stream::client;

/// Runs the command; returns the JSON for stdout and the exit code.
pub async fn run(global: &GlobalOpts, args: &CleanupArgs) -> Result<(Value, u8)> {
    let target = redact_url(&global.database_url);
    let store = Store::open(&global.database_url).await.with_context(|| format!("cannot open database {target}"))?;
    if let Some(CleanupCommand::Undo { run_id }) = &args.command {
        let undone = cleanup::undo(&store, run_id).await?;
        return Ok((serde_json::to_value(&undone)?, 0));
    }
    let stream = client(global)?;
    let (plan, yes, options) = match &args.command {
        Some(CleanupCommand::Channel { cid, yes, hard, include_with_messages }) => {
            let options = Options { hard: *hard, include_with_messages: *include_with_messages, remove_rooms: false };
            (cleanup::plan_for_channel(&store, &stream, cid, options).await?, *yes, options)
        }
        _ => {
            let options = Options {
                hard: args.hard,
                include_with_messages: args.include_with_messages,
                remove_rooms: args.remove_rooms,
            };
            let gyms: Vec<GymId> = if args.all {
                audit::all_gyms(&store).await?.0
            } else if args.gym_id.is_empty() {
                bail!("name the gyms to clean up with --gym-id N (repeatable) or --all");
            } else {
                args.gym_id.clone()
            };
            let report = audit::audit(&store, &stream, &gyms, &|_| {}).await?;
            let mut plan = cleanup::plan::plan(&report, options);
            if let Some(path) = &args.from_report {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                let old: AuditReport = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not an audit report", path.display()))?;
                cleanup::restrict_to(&mut plan, &cleanup::plan::plan(&old, options));
            }
            (plan, args.yes, options)
        }
    };
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
    let applied = cleanup::apply(&store, &stream, &plan, options).await?;
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
