//! `gymchat audit`: compares the platform database with Stream, gym by gym, and says what is wrong
//! and what to do (SYSTEM.md §6).
//!
//! - `read`: what is read for a gym, from both sides; a failed read marks its side incomplete.
//! - `compare`: the pure comparison that turns both sides into findings.
//! - [`report`]: the versioned report (JSON), and [`html`]: the same report as one page.
//!
//! Safety rule: a gym whose reads were not complete gets no destructive recommendation at all,
//! and the audit exits 2.

mod compare;
mod error;
pub mod html;
pub(crate) mod read;
pub mod report;

use chrono::{DateTime, Utc};
use gymchat_ids::GymId;
use gymchat_store::Store;
use gymchat_stream::{Client, ErrorKind, StreamError};

pub use error::AuditError;
pub use report::{AuditReport, Finding, FindingKind, GymReport, REPORT_VERSION};

/// What the audit is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the database's side of a gym.
    Database(GymId),
    /// Reading Stream's side of a gym.
    Stream(GymId),
    /// A gym is done.
    Done(GymId),
}

/// Audits one gym. A Stream outage does not fail it: the report says which reads were not
/// complete. Fails only when the gym does not exist or the database is unreachable.
pub async fn audit_gym(
    store: &Store,
    client: &Client,
    gym: GymId,
    now: DateTime<Utc>,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<GymReport, AuditError> {
    let started = std::time::Instant::now();
    progress(Stage::Database(gym));
    // The team's listing needs nothing from the database: both are read at once, and the users
    // the database expects are looked up while the listing goes on. The listing is a task of its
    // own (polled beside the database read in one task, it waited whenever the read's rows were
    // ready faster than they were taken: for most of a large gym's read), in a set that stops it
    // whenever the audit stops early (a database error, or a caller that gave up).
    let mut listing = tokio::task::JoinSet::new();
    listing.spawn({
        let client = client.clone();
        async move {
            let listing = read::list_team(&client, gym).await;
            tracing::info!(%gym, elapsed = ?started.elapsed(), "audit: team listing read");
            listing
        }
    });
    let (mut db, users) = async {
        let db = read::read_db(store, gym).await?;
        tracing::info!(%gym, elapsed = ?started.elapsed(), "audit: database read");
        let users = read::UserLookup::expected(client, gym, &db).await;
        Ok::<_, AuditError>((db, users))
    }
    .await?;
    let team_listing = match listing.join_next().await {
        Some(Ok(listing)) => listing,
        // A panic in the listing is the audit's own.
        Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: only when the runtime shuts down under the audit.
        _ => Err(StreamError::new("QueryChannels", ErrorKind::Connection("the team listing was stopped".into()))),
    };
    tracing::info!(%gym, rooms = db.rooms.len(), elapsed = ?started.elapsed(), "audit: database and team listing read");
    progress(Stage::Stream(gym));
    let stream = read::read_stream(store, client, gym, &mut db, team_listing, users).await;
    tracing::info!(%gym, channels = stream.channels.len(), elapsed = ?started.elapsed(), "audit: Stream read");
    let report = compare::compare(gym, &db, &stream, now);
    tracing::info!(%gym, findings = report.findings.len(), elapsed = ?started.elapsed(), "audit: compared");
    // A large gym's two sides are hundreds of thousands of small allocations: they are freed on
    // a thread of their own, off the way to the report (here, if no thread can be had).
    let _ = std::thread::Builder::new().name("audit-free".into()).spawn(move || drop((db, stream)));
    progress(Stage::Done(gym));
    Ok(report)
}

/// Audits the given gyms, in order.
pub async fn audit(
    store: &Store,
    client: &Client,
    gyms: &[GymId],
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<AuditReport, AuditError> {
    let now = Utc::now();
    let mut reports = Vec::with_capacity(gyms.len());
    for gym in gyms {
        reports.push(audit_gym(store, client, *gym, now, progress).await?);
    }
    Ok(AuditReport {
        version: REPORT_VERSION,
        generated_at: now,
        complete: reports.iter().all(|g| g.complete),
        gyms: reports,
    })
}

/// Every gym of the database, for `--all` (rows that cannot be read are left out and named).
pub async fn all_gyms(store: &Store) -> Result<(Vec<GymId>, Vec<String>), AuditError> {
    let gyms = store.session().await?.gyms().await?;
    let unread = gyms.skipped.iter().map(|s| format!("gyms {}: {}", s.key, s.reason)).collect();
    Ok((gyms.rows.into_iter().map(|g| g.id).collect(), unread))
}

/// The default report file name: `audit_{gym}_{UTC timestamp}.json` (`all` for several gyms).
pub fn default_file_name(gyms: &[GymId], at: DateTime<Utc>) -> String {
    let who = match gyms {
        [one] => one.to_string(),
        _ => "all".to_owned(),
    };
    format!("audit_{who}_{}.json", at.format("%Y%m%dT%H%M%SZ"))
}
