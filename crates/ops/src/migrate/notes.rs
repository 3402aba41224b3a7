//! The ids of the messages the migration writes, each the same for every attempt so a repeat
//! is answered "already exists" instead of writing twice: the system notes it posts in old
//! channels ("this conversation moved" when a room switches, "this conversation is back" when a
//! rollback undoes it), whose ids start with [`NOTE_PREFIX`] so that a later plan or copy never
//! takes them for history, and the copies of history in new channels.

use gymchat_ids::Cid;
use sha2::{Digest, Sha256};

/// Prefix of the ids of the system notes the migration posts in old channels.
pub const NOTE_PREFIX: &str = "gymchat-moved-";

/// Whether a message is one of the migration's own notes.
pub(crate) fn is_note(message_id: &str) -> bool {
    message_id.starts_with(NOTE_PREFIX)
}

/// The id of the note posted in the old channel when run `run_id` moves its room: the same for
/// every attempt of one run (a repeated freeze posts it once), another for a later run (a room
/// migrated again after a rollback gets its note again, and its freeze is not mistaken for the
/// first run's).
pub(crate) fn moved_note_id(old: &Cid, run_id: &str) -> String {
    let digest = Sha256::digest(format!("{old}\nmoved\n{run_id}").as_bytes());
    format!("{NOTE_PREFIX}{}", &hex::encode(digest)[..40])
}

/// The id of the note posted in the old channel when a rollback of `run_id` brings the room
/// back: the same for every attempt of one run, so a repeated rollback posts it once.
pub(crate) fn back_note_id(old: &Cid, run_id: &str) -> String {
    let digest = Sha256::digest(format!("{old}\n{run_id}").as_bytes());
    format!("{NOTE_PREFIX}back-{}", &hex::encode(digest)[..40])
}

/// The id of a message's copy in `new`: the same for every attempt, unique per channel and
/// message.
pub(crate) fn copy_id(new: &Cid, original: &str) -> String {
    let digest = Sha256::digest(format!("{new}\n{original}").as_bytes());
    format!("gm-{}", &hex::encode(digest)[..40])
}
