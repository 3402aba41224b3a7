//! The Stream client every Stream-facing command builds from the global options.

use anyhow::{Context, Result};
use gymchat_stream::{Client, ClientConfig};

use crate::config::GlobalOpts;

/// A client of `--stream-url` with the key, secret, rate budget and rate window the options give.
pub fn client(global: &GlobalOpts) -> Result<Client> {
    let key = global.stream_key.clone().context("--stream-key (or STREAM_KEY) is required")?;
    let secret = global.stream_secret.as_ref().context("--stream-secret (or STREAM_SECRET) is required")?;
    let mut config = ClientConfig::new(&global.stream_url, key, secret.expose());
    config.budget_share = global.rate_budget;
    config.rate_window = global.rate_window();
    if global.fixed_sleeps {
        config.pace = false;
        config.fixed_sleeps = true;
        config.max_in_flight = 1;
    }
    Client::new(config).context("cannot build the Stream client")
}
