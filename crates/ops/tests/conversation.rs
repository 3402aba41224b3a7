//! Conversations move whole (issue 19), on both databases against the sandbox over HTTP: after a
//! `--history copy` rebuild every member has the unread count they had, a room they hid stays
//! hidden (old and new channel), moderators stay moderators, a silent message's copy is
//! silent, and threads, quotes, reactions, pins and private messages move with the live copy and
//! into the import file.

use gymchat_ids::{Cid, StreamUserId};
use gymchat_ops::migrate::{self, ApplyOptions, History, Strategy};
use gymchat_sandbox::MemberState;
use gymchat_stream::model::{NewMessage, NewReaction, ReadState, SendOptions};
use gymchat_testkit::on_both_backends;
use serde_json::{Value, json};

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

/// The texts of the messages `user` sees in channel `id`, with their token, oldest first.
async fn seen(w: &World, user: &str, id: &str) -> Vec<String> {
    let state = w.sandbox.seen_by(user, &format!("messaging:{id}")).await;
    let texts = state["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned());
    texts.collect()
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
        // Diego (user_17) hid his chat with Ana, which cleared its history for him, as the
        // platform's hide does (its chat_member_hidden row says so too).
        w.client.hide_channel(&cid("direct_user_10_user_17"), &user("user_17"), true).await.unwrap();
        let seen_before = [
            seen(&w, "user_10", "direct_user_10_user_17").await,
            seen(&w, "user_17", "direct_user_10_user_17").await,
            seen(&w, "user_8", "direct_user_10_user_8").await,
            seen(&w, "user_10", "direct_user_10_user_8").await,
        ];
        assert!(seen_before[1].is_empty() && seen_before[0].len() == 3, "{seen_before:?}");
        let before = reads(&w, "direct_user_10_user_8").await;
        let (bruno_before, ana_before) = (unread(&before, "user_8"), unread(&before, "user_10"));
        assert!(bruno_before > 0 && ana_before > 0 && bruno_before != ana_before, "{before:?}");

        let report = apply(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");

        let seen_after = [
            seen(&w, "gym_4_user_10", "direct_gym_4_user_10_gym_4_user_17").await,
            seen(&w, "gym_4_user_17", "direct_gym_4_user_10_gym_4_user_17").await,
            seen(&w, "gym_4_user_8", "direct_gym_4_user_10_gym_4_user_8").await,
            seen(&w, "gym_4_user_10", "direct_gym_4_user_10_gym_4_user_8").await,
        ];
        assert_eq!(seen_after, seen_before, "each member sees what they saw: Diego none of the history he cleared");
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

/// Ana's chat with Bruno grows a thread (one reply only in the thread, one also in the
/// channel), a quote, reactions, a pin, a message only Bruno may see, and a deleted message
/// with a reply.
async fn rich_conversation(w: &World) {
    let old = cid("direct_user_10_user_8");
    let old = &old;
    let send = |m: NewMessage| async move { w.client.send_message(old, &m, SendOptions::default()).await.unwrap() };
    let mut reply = NewMessage::new("reply-hidden", user("user_8"), "only in the thread");
    reply.parent_id = Some("direct_user_10_user_8-m1".into());
    send(reply).await;
    let mut shown = NewMessage::new("reply-shown", user("user_10"), "also in the channel");
    shown.parent_id = Some("direct_user_10_user_8-m1".into());
    shown.show_in_channel = true;
    send(shown).await;
    let mut quote = NewMessage::new("quote-1", user("user_10"), "as you said");
    quote.quoted_message_id = Some("direct_user_10_user_8-m2".into());
    send(quote).await;
    let mut private = NewMessage::new("private-1", user("user_10"), "just for Bruno");
    private.restricted_visibility = vec![user("user_8")];
    send(private).await;
    let like = |by: &str, kind: &str| NewReaction {
        kind: kind.into(),
        user_id: user(by),
        score: None,
        custom: Default::default(),
    };
    w.client.send_reaction("direct_user_10_user_8-m1", &like("user_8", "like"), true).await.unwrap();
    w.client.send_reaction("direct_user_10_user_8-m1", &like("user_10", "love"), true).await.unwrap();
    w.client.send_reaction("reply-hidden", &like("user_10", "like"), true).await.unwrap();
    let pin = serde_json::Map::from_iter([("pinned".to_owned(), json!(true))]);
    w.client.update_message_partial("direct_user_10_user_8-m3", &user("user_8"), pin, &[]).await.unwrap();
    // Bruno deletes a message someone had already answered in its thread.
    send(NewMessage::new("doomed", user("user_8"), "secret plan")).await;
    let mut answer = NewMessage::new("after-doom", user("user_10"), "ok!");
    answer.parent_id = Some("doomed".into());
    send(answer).await;
    w.client.delete_message("doomed", false).await.unwrap();
}

on_both_backends! {
    async fn threads_quotes_reactions_pins_and_private_messages_move_with_a_live_copy(db) {
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |_| {}).await;
        rich_conversation(&w).await;
        let pushes_before = w.sandbox.stats().await["would_push"].as_u64().unwrap();
        assert!(pushes_before > 0, "the conversation itself pushed");

        let report = apply(&w, Strategy::Rebuild, History::Copy).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        assert_eq!(w.sandbox.stats().await["would_push"].as_u64().unwrap(), pushes_before, "the migration pushed nothing");

        let state = w.sandbox.state().await;
        let new = state["channels"].as_array().unwrap().iter().find(|c| c["id"] == "direct_gym_4_user_10_gym_4_user_8").unwrap();
        let messages = new["messages"].as_array().unwrap();
        let copy = |original: &str| messages.iter().find(|m| m["original_id"] == original).unwrap_or_else(|| panic!("no copy of {original}: {messages:#?}"));
        let first = copy("direct_user_10_user_8-m1");
        assert_eq!(copy("reply-hidden")["parent_id"], first["id"], "the reply is in the copy's thread");
        assert!(copy("reply-hidden").get("show_in_channel").is_none_or(|s| s == false));
        assert_eq!(copy("reply-shown")["parent_id"], first["id"]);
        assert_eq!(copy("reply-shown")["show_in_channel"], true);
        assert_eq!(copy("quote-1")["quoted_message_id"], copy("direct_user_10_user_8-m2")["id"]);
        assert_eq!(copy("private-1")["restricted_visibility"], json!(["gym_4_user_8"]), "private to Bruno's new id, never to all");
        let reactions = |m: &serde_json::Value| {
            let mut r: Vec<(String, String)> = m["reactions"].as_array().into_iter().flatten()
                .map(|r| (r["type"].as_str().unwrap().to_owned(), r["user_id"].as_str().unwrap().to_owned())).collect();
            r.sort();
            r
        };
        assert_eq!(reactions(first), vec![("like".into(), "gym_4_user_8".into()), ("love".into(), "gym_4_user_10".into())]);
        assert_eq!(reactions(copy("reply-hidden")), vec![("like".to_owned(), "gym_4_user_10".to_owned())]);
        let doomed = copy("doomed");
        assert_eq!(doomed["type"], "deleted", "{doomed}");
        assert_eq!(copy("after-doom")["parent_id"], doomed["id"], "the thread keeps its deleted first message");
        assert!(!serde_json::to_string(&messages).unwrap().contains("secret plan"), "what Bruno deleted is never sent again");
        let pinned = copy("direct_user_10_user_8-m3");
        assert_eq!((pinned["pinned"].clone(), pinned["pinned_by"]["id"].clone()), (json!(true), json!("gym_4_user_8")), "{pinned}");

        // Through Stream's own reads too: the thread's replies and the copy's reactions.
        let new_first = first["id"].as_str().unwrap();
        let replies = w.client.message_replies(new_first).await.unwrap();
        assert_eq!(replies.len(), 2, "{replies:#?}");
        assert_eq!(w.client.message_reactions(new_first).await.unwrap().len(), 2);

        // `migrate verify` finds nothing missing, and finds a reaction taken away on purpose.
        let verified = migrate::verify(&w.store, &w.client, &[support::journey::gym4_id()]).await.unwrap();
        assert_eq!(verified.gyms[0].conversations, vec![], "{verified:#?}");
        assert_eq!(verified.exit_code(), 0);
        w.client.delete_reaction(new_first, "love", &user("gym_4_user_10")).await.unwrap();
        let verified = migrate::verify(&w.store, &w.client, &[support::journey::gym4_id()]).await.unwrap();
        let found = &verified.gyms[0].conversations;
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].new_cid, "messaging:direct_gym_4_user_10_gym_4_user_8");
        assert!(found[0].what.contains("1 of the old channel's"), "{found:#?}");
        assert_eq!(verified.exit_code(), 1);
    }
}

on_both_backends! {
    async fn the_import_file_holds_threads_quotes_reactions_pins_and_private_readers(db) {
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |_| {}).await;
        rich_conversation(&w).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gym4.jsonl");
        let p = support::journey::plan(&w, Strategy::Rebuild, History::ImportFile).await;
        let options = ApplyOptions { import_file: Some(path.clone()), ..ApplyOptions::default() };
        let report = migrate::apply(&w.store, &w.client, &p, options, &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");

        let lines: Vec<Value> =
            std::fs::read_to_string(&path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let order: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(order.last(), Some(&"reaction"), "reactions come after every message");
        let message = |original: &str| {
            lines.iter().find(|l| l["type"] == "message" && l["data"]["original_id"] == original).map(|l| l["data"].clone()).unwrap()
        };
        let first = message("direct_user_10_user_8-m1");
        let reply = message("reply-hidden");
        assert_eq!((reply["type"].clone(), reply["parent_id"].clone()), (json!("reply"), first["id"].clone()));
        assert_eq!(message("reply-shown")["show_in_channel"], true);
        assert_eq!(message("quote-1")["quoted_message_id"], message("direct_user_10_user_8-m2")["id"]);
        assert_eq!(message("private-1")["restricted_visibility"], json!(["gym_4_user_8"]));
        let doomed = message("doomed");
        assert_eq!((doomed["type"].clone(), doomed["text"].clone()), (json!("deleted"), json!("")), "{doomed}");
        assert!(doomed["deleted_at"].is_string());
        assert_eq!(message("after-doom")["parent_id"], doomed["id"]);
        let pin = message("direct_user_10_user_8-m3");
        assert_eq!(pin["pinned_by_id"], "gym_4_user_8");
        assert!(pin["pinned_at"].is_string() && pin.as_object().unwrap().contains_key("pin_expires"), "all three together: {pin}");
        let reactions: Vec<&Value> = lines.iter().filter(|l| l["type"] == "reaction").map(|l| &l["data"]).collect();
        assert_eq!(reactions.len(), 3, "{reactions:#?}");
        assert!(reactions.iter().any(|r| r["message_id"] == first["id"] && r["user_id"] == "gym_4_user_8" && r["type"] == "like" && r["created_at"].is_string()));
    }
}

on_both_backends! {
    async fn channel_lists_keep_their_order_by_last_message(db) {
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |_| {}).await;
        // Ana's chat with Bruno, the gym's first room, gets the newest message of all, so its
        // creation order and its last-message order differ.
        let newest = NewMessage::new("newest", user("user_8"), "the latest word");
        w.client.send_message(&cid("direct_user_10_user_8"), &newest, SendOptions::default()).await.unwrap();
        let p = support::journey::plan(&w, Strategy::Rebuild, History::Copy).await;
        let moved: Vec<(String, String)> = p.gyms[0]
            .channels
            .iter()
            .filter(|c| c.messages > 0 && !c.repair)
            .map(|c| (c.old_cid.clone(), c.new_cid.clone()))
            .collect();
        assert!(moved.len() >= 3, "{moved:?}");
        let last_message_at = |cid: String| {
            let w = &w;
            async move { w.client.get_or_create_channel(&Cid::parse(&cid).unwrap(), None, 0, None).await.unwrap().body.channel.last_message_at }
        };
        let mut before = Vec::new();
        for (old, new) in &moved {
            before.push((last_message_at(old.clone()).await.unwrap(), new.clone()));
        }
        before.sort();
        assert_eq!(before.last().unwrap().1, "messaging:direct_gym_4_user_10_gym_4_user_8");

        // Each member's channel list before, as the app reads it with their legacy id's token,
        // in new cids.
        let new_of: std::collections::BTreeMap<String, String> = moved.iter().cloned().collect();
        let mut lists_before = Vec::new();
        for (old_user, new_user) in [("user_10", "gym_4_user_10"), ("user_8", "gym_4_user_8"), ("user_11", "gym_4_user_11")] {
            let list = w.sandbox.channel_list_of(old_user).await;
            lists_before.push((list.into_iter().filter_map(|c| new_of.get(&c).cloned()).collect::<Vec<_>>(), new_user));
        }

        let report = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let mut after = Vec::new();
        for (_, new) in &moved {
            after.push((last_message_at(new.clone()).await.unwrap(), new.clone()));
        }
        after.sort();
        let order = |list: &[(chrono::DateTime<chrono::Utc>, String)]| list.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>();
        assert_eq!(order(&after), order(&before), "the new channels' last messages came in the old ones' order");

        // Each member's channel list, as the app reads it with their token, keeps its order.
        for (then, new_user) in lists_before {
            let now: Vec<String> = w.sandbox.channel_list_of(new_user).await.into_iter().filter(|c| then.contains(c)).collect();
            assert!(then.len() >= 2, "{new_user}: {then:?}");
            assert_eq!(now, then, "{new_user}'s list in the order their legacy id's had");
        }
    }
}

on_both_backends! {
    async fn the_plan_counts_the_conversation_and_estimates_its_calls(db) {
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |_| {}).await;
        rich_conversation(&w).await;
        let p = support::journey::plan(&w, Strategy::Rebuild, History::Copy).await;
        let chat = p.gyms[0].channels.iter().find(|c| c.old_cid == "messaging:direct_user_10_user_8").unwrap();
        let counts = chat.conversation;
        // m1 has two replies (one also in the channel), "doomed" one; m1 has two reactions (the
        // hidden reply's reaction shows only in its thread); m3 is pinned; "doomed" is deleted.
        assert_eq!((counts.threads, counts.replies, counts.shown_replies), (2, 3, 1), "{counts:?}");
        assert_eq!((counts.reacted, counts.reactions, counts.pins, counts.deleted), (1, 2, 1, 1), "{counts:?}");

        let copy = p.estimates.iter().find(|e| e.history == History::Copy).unwrap();
        let none = p.estimates.iter().find(|e| e.history == History::None).unwrap();
        let calls = |op: &str| copy.channel_calls.get(op).copied().unwrap_or(0);
        assert!(calls("SendReaction") >= 2 && calls("UpdateMessagePartial") >= 1 && calls("DeleteMessage") >= 1, "{copy:#?}");
        assert!(calls("GetReplies") >= 14, "seven reads of each of the two threads: {copy:#?}");
        let members_with_people: usize = p.gyms[0].channels.iter().map(|c| c.member_targets.len()).sum();
        assert_eq!(calls("MarkRead"), members_with_people as u64);
        assert!(!none.channel_calls.contains_key("SendReaction") && !none.channel_calls.contains_key("MarkRead"));
    }
}

on_both_backends! {
    async fn in_place_members_keep_their_role_read_position_and_hidden_chats(db) {
        let mut snapshot = gym4_snapshot();
        let chat = snapshot.channels.iter_mut().find(|c| c.id == "direct_user_10_user_8").unwrap();
        chat.member_state.insert("user_8".into(), MemberState { channel_role: Some("channel_moderator".into()), ..MemberState::default() });
        let w = world_configured(&db, &gym4_fixture(), snapshot, |_| {}).await;
        // Ana has read up to her own last message; Bruno's answer after it is unread for her.
        let old = cid("direct_user_10_user_8");
        w.client.mark_read(&old, &user("user_10"), Some("direct_user_10_user_8-m11")).await.unwrap();
        w.client.hide_channel(&cid("direct_user_10_user_17"), &user("user_17"), false).await.unwrap();
        let ana_before = unread(&reads(&w, "direct_user_10_user_8").await, "user_10");
        assert_eq!(ana_before, 1);

        let report = apply(&w, Strategy::InPlace, History::None).await;
        assert_eq!(report.exit_code(), 0, "{report:#?}");

        // The same channel, the new ids: Ana's badge, Bruno's role, Diego's hidden chat.
        assert_eq!(unread(&reads(&w, "direct_user_10_user_8").await, "gym_4_user_10"), ana_before);
        let state = w.sandbox.state().await;
        let channel = |id: &str| state["channels"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap();
        assert_eq!(channel("direct_user_10_user_8")["member_state"]["gym_4_user_8"]["channel_role"], "channel_moderator");
        assert_eq!(channel("direct_user_10_user_17")["hidden_for"], json!(["gym_4_user_17"]));

        // Rolled back, the legacy ids are members again, and Bruno a moderator again.
        let back = migrate::rollback(&w.store, &w.client, &report.run_id, support::journey::yes()).await.unwrap();
        assert!(back.failed.is_empty(), "{back:#?}");
        let state = w.sandbox.state().await;
        let chat = state["channels"].as_array().unwrap().iter().find(|c| c["id"] == "direct_user_10_user_8").cloned().unwrap();
        assert_eq!(chat["member_state"]["user_8"]["channel_role"], "channel_moderator", "{chat:#}");
    }
}

on_both_backends! {
    async fn the_rich_reference_scenario_looks_the_same_to_every_member(db) {
        let fixture = gymchat_store::DbFixture::from_json(&gymchat_testkit::read_fixture("gym4-rich.json")).unwrap();
        let snapshot = gymchat_sandbox::load_snapshot(&gymchat_testkit::fixture_path("gym4-rich.json")).unwrap();
        let w = world_configured(&db, &fixture, snapshot, |_| {}).await;
        let p = support::journey::plan(&w, Strategy::Rebuild, History::Copy).await;
        // The rooms whose old channel the legacy ids can still read (a team's channel is closed
        // to a user without teams under multi-tenancy, which is why the migration exists).
        let moved: Vec<&migrate::plan::ChannelSpec> = p.gyms[0]
            .channels
            .iter()
            .filter(|c| c.messages > 0 && !c.repair && c.old_cid.starts_with("messaging:direct_"))
            .collect();
        assert!(moved.len() >= 3, "{moved:#?}");

        // What each member sees, with their own token, in each moved room: the texts in the
        // channel and their unread count.
        let views = |legacy: bool| {
            let w = &w;
            let moved = &moved;
            async move {
                let mut seen_all = Vec::new();
                for c in moved {
                    let id = if legacy { &c.old_cid } else { &c.new_cid };
                    let bare = id.strip_prefix("messaging:").unwrap();
                    let read = reads(w, bare).await;
                    for (old, target) in &c.member_targets {
                        let who = if legacy { old } else { target };
                        let unread = read.iter().find(|r| r.user.id.as_str() == who.as_str()).map(|r| r.unread_messages);
                        seen_all.push((c.room_id, target.clone(), seen(w, who, bare).await, unread));
                    }
                }
                seen_all
            }
        };
        let before = views(true).await;
        assert!(before.iter().any(|(_, who, texts, _)| who == "gym_4_user_8" && texts.contains(&"just for Bruno".to_owned())));
        assert!(before.iter().any(|(_, who, texts, _)| who == "gym_4_user_17" && texts.is_empty()), "Diego cleared his chat");

        let report = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        assert_eq!(views(false).await, before, "every member sees what they saw, with the same unread count");
        let verified = migrate::verify(&w.store, &w.client, &[support::journey::gym4_id()]).await.unwrap();
        assert_eq!(verified.exit_code(), 0, "{verified:#?}");
        assert_eq!(report.carried()["reactions"], 3);
        assert_eq!(report.carried()["pins"], 1);
    }
}
