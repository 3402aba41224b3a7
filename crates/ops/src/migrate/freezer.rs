//! Freezing the old channels in batches (STREAM_API.md, "Batch channel updates"): each room's
//! move asks the run's freezer for its old channel and waits; the freezer gathers what is asked
//! within a few milliseconds (at most 100 cids), freezes them with one batch task
//! (`updateData` with `frozen`), reads them back, and tells each move whether its channel is
//! confirmed frozen. A channel the batch did not freeze fails its item's step, which a resumed
//! run repeats. One `UpdateChannelsBatch` call thus replaces up to a hundred full updates at
//! 300/min.

use std::time::Duration;

use gymchat_ids::Cid;
use gymchat_stream::Client;
use gymchat_stream::limits::BATCH;
use tokio::sync::{mpsc, oneshot};

use super::error::StepError;

/// How long the freezer waits for more channels once one is asked for.
const GATHER: Duration = Duration::from_millis(20);

type Request = (Cid, oneshot::Sender<Result<bool, String>>);

/// The run's freezer: a task that batches the freezes asked of it.
pub(crate) struct Freezer {
    asks: mpsc::UnboundedSender<Request>,
}

impl Freezer {
    /// Starts the freezer's task; it ends when the freezer is dropped.
    pub(crate) fn start(client: Client) -> Self {
        let (asks, mut asked) = mpsc::unbounded_channel::<Request>();
        tokio::spawn(async move {
            while let Some(first) = asked.recv().await {
                let mut batch = vec![first];
                let until = tokio::time::Instant::now() + GATHER;
                while batch.len() < BATCH {
                    match tokio::time::timeout_at(until, asked.recv()).await {
                        Ok(Some(request)) => batch.push(request),
                        _ => break,
                    }
                }
                let mut cids: Vec<Cid> = batch.iter().map(|(cid, _)| cid.clone()).collect();
                cids.sort();
                cids.dedup();
                let frozen = client.freeze_channels(&cids).await.map_err(|e| e.to_string());
                for (cid, reply) in batch {
                    let _ = reply.send(frozen.as_ref().map(|f| f.contains(&cid)).map_err(Clone::clone));
                }
            }
        });
        Self { asks }
    }

    /// Freezes `cid` with the next batch; done when it is read back frozen.
    pub(crate) async fn freeze(&self, cid: &Cid) -> Result<(), StepError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StepError::Drift("the run's freezer stopped".into());
        self.asks.send((cid.clone(), reply)).map_err(|_| stopped())?;
        match answer.await.map_err(|_| stopped())? {
            Ok(true) => Ok(()),
            Ok(false) => Err(StepError::Drift(format!("{cid} is not frozen after its batch freeze"))),
            Err(e) => Err(StepError::Drift(format!("the batch freeze of {cid} failed: {e}"))),
        }
    }
}
