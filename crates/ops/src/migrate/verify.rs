//! `gymchat migrate verify`: what a migration must achieve, checked by a fresh audit. Every room
//! of the gym that points at a live channel must be on a tenant-scoped one: members in the gym's
//! target form and exactly the room's, their Stream users in the gym's team, team and `gym_id`
//! right, frozen when its event is over; and no run of the gym may be left unfinished. Where a
//! run copied history, members must see what they saw (`faithful`; each difference is a
//! [`super::Difference`]). Stream-only channels and db-only rooms are cleanup's business, not
//! the migration's.

use gymchat_ids::GymId;
use gymchat_store::Store;
use gymchat_stream::Client;
use serde::Serialize;

use super::error::MigrateError;
use super::faithful::{Difference, differences};
use crate::audit::{self, Finding, FindingKind};

/// The finding kinds a completed migration leaves none of.
pub const MIGRATION_KINDS: &[FindingKind] = &[
    FindingKind::LegacyMemberIds,
    FindingKind::ForeignGymMemberIds,
    FindingKind::UnknownMemberIds,
    FindingKind::MissingMembers,
    FindingKind::ExtraMembers,
    FindingKind::MembersNotInTeam,
    FindingKind::MissingTeam,
    FindingKind::WrongTeam,
    FindingKind::WrongGymId,
    FindingKind::NotFrozenEventOver,
];

/// One gym's verification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GymVerification {
    /// The gym.
    pub gym_id: i64,
    /// The audit read everything.
    pub complete: bool,
    /// Findings a migration should have left none of.
    pub problems: Vec<Finding>,
    /// Runs of the gym that did not finish.
    pub unfinished_runs: Vec<String>,
    /// Where a moved room's new channel does not show what its old one did.
    pub conversations: Vec<Difference>,
}

/// The verification of some gyms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Per gym.
    pub gyms: Vec<GymVerification>,
}

impl Verification {
    /// 0 verified, 1 problems, 2 not everything could be read.
    pub fn exit_code(&self) -> u8 {
        if self.gyms.iter().any(|g| !g.complete) {
            2
        } else if self
            .gyms
            .iter()
            .any(|g| !g.problems.is_empty() || !g.unfinished_runs.is_empty() || !g.conversations.is_empty())
        {
            1
        } else {
            0
        }
    }
}

/// Verifies the gyms.
pub async fn verify(store: &Store, client: &Client, gyms: &[GymId]) -> Result<Verification, MigrateError> {
    let report = audit::audit(store, client, gyms, &|_| {}).await.map_err(|e| match e {
        audit::AuditError::UnknownGym(g) => MigrateError::UnknownGym(g),
        audit::AuditError::Store(s) => MigrateError::Store(s),
    })?;
    let runs = store.session().await?.migration_runs().await?;
    let mut gyms_out = Vec::with_capacity(report.gyms.len());
    for g in report.gyms {
        let conversations = match GymId::new(g.gym_id) {
            Ok(gym) => differences(store, client, gym).await?,
            Err(_) => Vec::new(),
        };
        gyms_out.push(GymVerification {
            gym_id: g.gym_id,
            complete: g.complete,
            unfinished_runs: runs
                .iter()
                .filter(|r| r.gyms.contains(&g.gym_id) && (r.state.is_unfinished() || r.state.is_rolling_back()))
                .map(|r| r.run_id.clone())
                .collect(),
            problems: g.findings.into_iter().filter(|f| MIGRATION_KINDS.contains(&f.kind)).collect(),
            conversations,
        });
    }
    Ok(Verification { gyms: gyms_out })
}
