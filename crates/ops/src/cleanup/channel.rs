//! `gymchat cleanup channel --cid`: one channel, deleted only on the word of a fresh audit.

use gymchat_ids::{Cid, GymId};
use gymchat_store::Store;
use gymchat_stream::Client;

use super::error::CleanupError;
use super::plan::{self, Action, Options, Plan, Refusal};

/// The plan for one channel (`gymchat cleanup channel --cid`): deleted only when a fresh,
/// complete audit of the gym whose team it carries proves it orphaned, with the same refusals as
/// a whole gym's cleanup.
pub async fn plan_for_channel(
    store: &Store,
    client: &Client,
    cid: &Cid,
    options: Options,
) -> Result<Plan, CleanupError> {
    let refuse = |reason: String| Plan {
        actions: Vec::new(),
        refused: vec![Refusal { target: cid.to_string(), reason }],
        complete: true,
    };
    let channel = match client.channels_by_cids(std::slice::from_ref(cid)).await {
        Ok(found) if !found.undecodable.is_empty() => {
            return Ok(Plan { complete: false, ..refuse(found.problems("the channel").join("; ")) });
        }
        Ok(found) => found.items.into_iter().next(),
        Err(e) => return Ok(Plan { complete: false, ..refuse(format!("the channel could not be read: {e}")) }),
    };
    let Some(channel) = channel else { return Ok(refuse("no live channel has this cid".into())) };
    let gym = channel.channel.team.as_ref().and_then(|t| t.as_str().strip_prefix("gym_")?.parse::<GymId>().ok());
    let Some(gym) = gym else {
        return Ok(refuse("the channel has no gym_{G} team: gymchat cannot tell whose it is".into()));
    };
    let report = crate::audit::audit(store, client, &[gym], &|_| {}).await?;
    let mut whole = plan::plan(&report, options);
    let key = cid.to_string();
    let found = report
        .gyms
        .iter()
        .flat_map(|g| &g.findings)
        .find(|f| f.kind == crate::audit::FindingKind::StreamOnly && f.cid.as_deref() == Some(key.as_str()));
    whole.actions.retain(|a| matches!(a, Action::DeleteChannel { cid, .. } if *cid == key));
    whole.refused.retain(|r| r.target == key || r.target.starts_with("gym "));
    if whole.actions.is_empty() && whole.refused.is_empty() {
        let reason = match found {
            Some(f) => format!("the audit does not prove it orphaned: {}", f.recommendation),
            None => "a room of the gym points at it".to_owned(),
        };
        whole.refused.push(Refusal { target: key, reason });
    }
    Ok(whole)
}
