//! What the command-line tests share: the sandbox serving the reference scenario in-process,
//! over HTTP, for the `gymchat` binary that the tests run as a child process.

use std::time::Duration;

use gymchat_sandbox::{Config, InitialState, LimitMode, load_snapshot};
use gymchat_testkit::fixture_path;

/// The sandbox with the reference scenario, limits off and `latency` added to every call; it
/// stops when the returned sender is dropped.
pub async fn sandbox(latency: Duration) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut config = Config::new("k", "s");
    config.limits = LimitMode::Off;
    config.latency = latency;
    config.initial = InitialState::Snapshot(load_snapshot(&fixture_path("gym4.json")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gymchat_sandbox::run(listener, config, async {
        let _ = stopped.await;
    }));
    (url, stop)
}
