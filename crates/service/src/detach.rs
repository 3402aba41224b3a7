//! Work that must end once it has begun. A request's future is dropped when its client goes
//! away or its deadline passes; dropped inside a database transaction (while `BEGIN` or `COMMIT`
//! is in flight), it can hand its connection back to the pool still in the transaction, holding
//! row locks that every later statement waits behind. The transactional steps of a request run
//! as their own task instead, which finishes whatever becomes of the request.

use std::future::Future;

use crate::error::{ApiError, ApiResult};

/// Runs `work` to its end on its own task, and returns its result to the request if it is
/// still waiting.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl Future<Output = ApiResult<T>> + Send + 'static,
) -> ApiResult<T> {
    tokio::spawn(work).await.map_err(|e| {
        tracing::error!(error = %e, "a detached step failed");
        ApiError::unavailable("the service could not finish this change; try again")
    })?
}
