//! The sandbox started in-process on port 0 for the client's tests (the harness of
//! `gymchat-testkit`), and a client of it.

#![allow(dead_code, reason = "each test file uses a different part of the helper")]

use gymchat_sandbox::Config;
use gymchat_stream::{Client, ClientConfig};
pub use gymchat_testkit::sandbox::Sandbox as Running;

pub const KEY: &str = "client-key";
pub const SECRET: &str = "client-secret";

/// A sandbox with `config`.
pub async fn sandbox(config: Config) -> Running {
    Running::start(config).await
}

/// A client of this sandbox with `ClientConfig`'s defaults.
pub fn client(s: &Running) -> Client {
    Client::new(ClientConfig::new(&s.url, KEY, SECRET)).unwrap()
}
