//! History a member cleared stays cleared for them after a move (issue 19), on both databases
//! against the sandbox over HTTP, also when the platform no longer says so: a member who hid the
//! room (clearing it) and showed it again has no hidden row, and Stream alone remembers.

use gymchat_ids::{Cid, StreamUserId};
use gymchat_ops::migrate::{History, Strategy};
use gymchat_testkit::on_both_backends;

mod support;

use support::journey::apply;
use support::{World, gym4};

/// The texts `user` sees in channel `id` with their own token.
async fn seen(w: &World, user: &str, id: &str) -> Vec<String> {
    let state = w.sandbox.seen_by(user, &format!("messaging:{id}")).await;
    state["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

on_both_backends! {
    async fn history_cleared_and_shown_again_stays_cleared(db) {
        let w = gym4(&db).await;
        // Bruno clears his chat with Ana (hide with clear_history), then shows it again: the
        // platform's hidden row would be gone; the database has none for him.
        let old = Cid::parse("messaging:direct_user_10_user_8").unwrap();
        let bruno = StreamUserId::parse("user_8").unwrap();
        w.client.hide_channel(&old, &bruno, true).await.unwrap();
        w.client.show_channel(&old, &bruno).await.unwrap();
        let (bruno_before, ana_before) =
            (seen(&w, "user_8", "direct_user_10_user_8").await, seen(&w, "user_10", "direct_user_10_user_8").await);
        assert!(bruno_before.is_empty() && !ana_before.is_empty(), "{bruno_before:?} {ana_before:?}");

        let report = apply(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let new = "direct_gym_4_user_10_gym_4_user_8";
        assert_eq!(seen(&w, "gym_4_user_8", new).await, bruno_before, "Bruno sees none of what he cleared");
        assert_eq!(seen(&w, "gym_4_user_10", new).await, ana_before, "Ana sees it all");
    }
}
