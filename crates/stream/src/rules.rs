//! Stream's rules for a message, checked before sending: its documented limits (text at most
//! 5,000 characters, custom data at most 5 KB, at most 30 attachments and 25 mentioned users) and
//! whether Stream would run its text as a slash command (`/giphy`, `/ban`, `/mute`, …: a text
//! that starts with `/` and a command name).
//!
//! A copier uses [`check_message`] to find what it cannot copy as is, and [`inert_text`] to copy
//! a command's text without running it; [`on_stream_cdn`] says which attachment URLs are files
//! on Stream's CDN (signed, readable by the channel's members only, expiring).

use serde_json::Value;

use crate::model::NewMessage;

/// The app's default `max_message_length`, in characters.
pub const MAX_TEXT_CHARS: usize = 5_000;
/// Custom data per message, in bytes of JSON.
pub const MAX_CUSTOM_BYTES: usize = 5 * 1024;
/// Attachments per message.
pub const MAX_ATTACHMENTS: usize = 30;
/// Mentioned users per message.
pub const MAX_MENTIONS: usize = 25;

/// The domain of Stream's CDN.
const STREAM_CDN_DOMAIN: &str = "stream-io-cdn.com";

/// Whether `url` is a file on Stream's CDN: on its domain, or served by the API's own address
/// (`api_base`; the sandbox serves its files there).
pub fn on_stream_cdn(url: &str, api_base: &str) -> bool {
    let on_domain = reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).is_some_and(|host| {
        host == STREAM_CDN_DOMAIN || host.strip_suffix(STREAM_CDN_DOMAIN).is_some_and(|sub| sub.ends_with('.'))
    });
    on_domain || (!api_base.is_empty() && url.starts_with(api_base.trim_end_matches('/')))
}

/// One way a message breaks Stream's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// The text is longer than Stream takes (400/20).
    TextTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// The custom fields are larger than Stream takes.
    CustomTooLarge {
        /// Their size in bytes of JSON.
        bytes: usize,
    },
    /// More attachments than Stream takes.
    TooManyAttachments {
        /// How many.
        count: usize,
    },
    /// More mentioned users than Stream takes.
    TooManyMentions {
        /// How many.
        count: usize,
    },
    /// The text would run a slash command.
    RunsCommand {
        /// The command's name.
        command: String,
    },
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Breach::TextTooLong { chars } => write!(f, "text of {chars} characters (at most {MAX_TEXT_CHARS})"),
            Breach::CustomTooLarge { bytes } => write!(f, "custom data of {bytes} bytes (at most {MAX_CUSTOM_BYTES})"),
            Breach::TooManyAttachments { count } => write!(f, "{count} attachments (at most {MAX_ATTACHMENTS})"),
            Breach::TooManyMentions { count } => write!(f, "{count} mentioned users (at most {MAX_MENTIONS})"),
            Breach::RunsCommand { command } => write!(f, "text would run the /{command} command"),
        }
    }
}

/// The command a text would run: it starts with `/` followed by a command name. Any name counts,
/// not only Stream's built-in ones, because apps can define their own commands.
pub fn command_in(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('/')?;
    let name = rest.split(|c: char| c.is_whitespace()).next().unwrap_or_default();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')).then_some(name)
}

/// The same text in a form Stream does not run as a command: a zero-width space before the `/`,
/// invisible when read. Texts that run nothing are returned as they are.
pub fn inert_text(text: &str) -> String {
    if command_in(text).is_some() { format!("\u{200B}{text}") } else { text.to_owned() }
}

/// Every way the message breaks Stream's rules; empty when it can be sent as it is.
pub fn check_message(message: &NewMessage) -> Vec<Breach> {
    let mut breaches = Vec::new();
    let chars = message.text.chars().count();
    if chars > MAX_TEXT_CHARS {
        breaches.push(Breach::TextTooLong { chars });
    }
    let bytes = serde_json::to_vec(&Value::Object(message.custom.clone())).map_or(0, |v| v.len());
    if bytes > MAX_CUSTOM_BYTES {
        breaches.push(Breach::CustomTooLarge { bytes });
    }
    if message.attachments.len() > MAX_ATTACHMENTS {
        breaches.push(Breach::TooManyAttachments { count: message.attachments.len() });
    }
    if message.mentioned_users.len() > MAX_MENTIONS {
        breaches.push(Breach::TooManyMentions { count: message.mentioned_users.len() });
    }
    if message.kind.as_deref() != Some("system")
        && let Some(command) = command_in(&message.text)
    {
        breaches.push(Breach::RunsCommand { command: command.to_owned() });
    }
    breaches
}

#[cfg(test)]
mod tests {
    use gymchat_ids::StreamUserId;
    use serde_json::json;

    use super::*;

    fn message(text: &str) -> NewMessage {
        NewMessage::new("m1", StreamUserId::parse("gym_4_user_10").unwrap(), text)
    }

    #[test]
    fn files_on_streams_cdn_are_known_by_their_address() {
        let api = "https://chat.stream-io-api.com";
        assert!(on_stream_cdn("https://us-east.stream-io-cdn.com/1/attachments/a.png?Expires=1", api));
        assert!(on_stream_cdn("https://stream-io-cdn.com/a.png", api));
        assert!(!on_stream_cdn("https://evil-stream-io-cdn.com/a.png", api));
        assert!(!on_stream_cdn("https://images.example.com/a.png", api));
        assert!(on_stream_cdn("http://127.0.0.1:9/_sandbox/cdn/x", "http://127.0.0.1:9"));
        assert!(!on_stream_cdn("not a url", ""));
    }

    #[test]
    fn commands_are_found_at_the_start_only() {
        assert_eq!(command_in("/giphy cats"), Some("giphy"));
        assert_eq!(command_in("/ban"), Some("ban"));
        assert_eq!(command_in("/my-command x"), Some("my-command"));
        assert_eq!(command_in("see /giphy"), None);
        assert_eq!(command_in("/ hello"), None);
        assert_eq!(command_in("/usr/bin"), None);
        assert_eq!(command_in(&inert_text("/giphy cats")), None);
        assert_eq!(inert_text("hola"), "hola");
    }

    #[test]
    fn every_limit_is_checked() {
        assert!(check_message(&message("hola")).is_empty());
        assert_eq!(check_message(&message(&"é".repeat(5_000))), []);
        assert_eq!(check_message(&message(&"x".repeat(5_001))), [Breach::TextTooLong { chars: 5_001 }]);
        let mut big = message("x");
        big.custom.insert("blob".into(), json!("y".repeat(5_200)));
        big.attachments = vec![json!({}); 31];
        big.mentioned_users = vec![StreamUserId::parse("u").unwrap(); 26];
        let breaches = check_message(&big);
        assert_eq!(breaches.len(), 3, "{breaches:?}");
        assert_eq!(check_message(&message("/mute me")), [Breach::RunsCommand { command: "mute".into() }]);
        assert!(check_message(&message("/mute me").system()).is_empty(), "system messages run no command");
    }
}
