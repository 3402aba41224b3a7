//! Conversations move whole (issue 19), on both databases against the sandbox over HTTP: after a
//! `--history copy` rebuild every member has the unread count they had, a room they hid stays
//! hidden (old and new channel), moderators stay moderators, and a silent message's copy is
//! silent.

use gymchat_ids::{Cid, StreamUserId};
use gymchat_ops::migrate::{History, Strategy};
use gymchat_sandbox::MemberState;
use gymchat_stream::model::{NewMessage, ReadState, SendOptions};
use gymchat_testkit::on_both_backends;
use serde_json::json;

mod support;

use support::journey::apply;
use support::{World, gym4_fixture, gym4_snapshot, world_configured};

fn cid(id: &str) -> Cid {
    Cid::parse(&format!("messaging:{id}")).unwrap()
}

fn user(id: &str) -> StreamUserId {
    StreamUserId::parse(id).unwrap()
}

/// The channel's read list.
async fn reads(w: &World, id: &str) -> Vec<ReadState> {
    w.client.get_or_create_channel(&cid(id), None, 0, None).await.unwrap().body.read
}

fn unread(reads: &[ReadState], user: &str) -> u64 {
    reads.iter().find(|r| r.user.id.as_str() == user).map(|r| r.unread_messages).expect("a read state")
}

on_both_backends! {
    async fn every_member_sees_what_they_saw_before(db) {
        let mut snapshot = gym4_snapshot();
        // Bruno (user_8) moderates his chat with Ana.
        let chat = snapshot.channels.iter_mut().find(|c| c.id == "direct_user_10_user_8").unwrap();
        chat.member_state.insert("user_8".into(), MemberState { channel_role: Some("channel_moderator".into()), ..MemberState::default() });
        let w = world_configured(&db, &gym4_fixture(), snapshot, |_| {}).await;

        // Bruno has read up to Ana's fourth message; Ana has read nothing; a silent message
        // from Ana counts for nobody.
        let old = cid("direct_user_10_user_8");
        w.client.mark_read(&old, &user("user_8"), Some("direct_user_10_user_8-m4")).await.unwrap();
        let mut quiet = NewMessage::new("quiet-1", user("user_10"), "no badge for this");
        quiet.custom.insert("silent".into(), json!(true));
        w.client.send_message(&old, &quiet, SendOptions::default()).await.unwrap();
        // Diego (user_17) hid his chat with Ana (the platform's chat_member_hidden says so too).
        w.client.hide_channel(&cid("direct_user_10_user_17"), &user("user_17"), false).await.unwrap();
        let before = reads(&w, "direct_user_10_user_8").await;
        let (bruno_before, ana_before) = (unread(&before, "user_8"), unread(&before, "user_10"));
        assert!(bruno_before > 0 && ana_before > 0 && bruno_before != ana_before, "{before:?}");

        let report = apply(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");

        let after = reads(&w, "direct_gym_4_user_10_gym_4_user_8").await;
        assert_eq!(unread(&after, "gym_4_user_8"), bruno_before, "Bruno's badge: {after:?}");
        assert_eq!(unread(&after, "gym_4_user_10"), ana_before, "Ana's badge: {after:?}");

        let state = w.sandbox.state().await;
        let channel = |id: &str| state["channels"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap();
        let new = channel("direct_gym_4_user_10_gym_4_user_8");
        assert_eq!(new["member_state"]["gym_4_user_8"]["channel_role"], "channel_moderator", "{new:#}");
        let copy = new["messages"].as_array().unwrap().iter().find(|m| m["original_id"] == "quiet-1").unwrap();
        assert_eq!(copy["silent"], true, "{copy}");
        assert_eq!(channel("direct_gym_4_user_10_gym_4_user_17")["hidden_for"], json!(["gym_4_user_17"]));
        assert_eq!(channel("direct_user_10_user_17")["hidden_for"], json!(["user_17"]), "the note kept the old one hidden");
    }
}
