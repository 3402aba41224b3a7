//! What the command-line tests share: the sandbox serving the reference scenario in-process,
//! over HTTP, for the `gymchat` binary that the tests run as a child process.

use std::time::Duration;

use gymchat_testkit::sandbox::{Sandbox, gym4_config};

/// The sandbox with the reference scenario, limits off and `latency` added to every call; it
/// stops when dropped.
pub async fn sandbox(latency: Duration) -> Sandbox {
    let mut config = gym4_config("k", "s");
    config.latency = latency;
    Sandbox::start(config).await
}
