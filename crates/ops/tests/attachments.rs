//! Attachments on Stream's CDN (issue 19), on both databases against the sandbox over HTTP: the
//! plan counts the files signed for an old channel, and `--rehost-attachments` uploads each once
//! to the new channel, so the copy points at a file of its own channel with the same bytes;
//! other URLs stay as they are.

use bytes::Bytes;
use gymchat_ids::{Cid, StreamUserId};
use gymchat_ops::migrate::{self, ApplyOptions, History, Options, Strategy};
use gymchat_stream::model::{NewMessage, SendOptions};
use gymchat_testkit::on_both_backends;
use serde_json::json;

mod support;

use support::journey::gym4_id;
use support::{World, gym4};

const ELSEWHERE: &str = "https://images.example.com/gym.png";

/// Ana sends Bruno a photo she uploaded to their old channel, with its thumbnail, and a picture
/// hosted elsewhere; answers the photo's CDN URL.
async fn photo_from_ana(w: &World) -> String {
    let old = Cid::parse("messaging:direct_user_10_user_8").unwrap();
    let ana = StreamUserId::parse("user_10").unwrap();
    let photo = Bytes::from_static(b"\x89PNG not really a png");
    let url = w.client.upload_to_channel(&old, &ana, ("photo.png", "image/png", photo), true).await.unwrap();
    let mut m = NewMessage::new("with-photo", ana, "look at this");
    m.attachments = vec![
        json!({ "type": "image", "image_url": url, "thumb_url": url }),
        json!({ "type": "image", "image_url": ELSEWHERE }),
    ];
    w.client.send_message(&old, &m, SendOptions::default()).await.unwrap();
    url
}

on_both_backends! {
    async fn files_on_the_old_channels_cdn_are_counted_and_rehosted_on_the_new_one(db) {
        let w = gym4(&db).await;
        let url = photo_from_ana(&w).await;
        assert!(url.starts_with(&format!("{}/_sandbox/cdn/messaging/direct_user_10_user_8/", w.url)), "{url}");
        // The URL is signed: changed, it reads nothing.
        let tampered = url.replace("Signature=", "Signature=0");
        assert_eq!(w.client.download(&tampered).await.unwrap_err().status(), Some(403));

        let options = |rehost_attachments| Options { strategy: Strategy::Rebuild, history: History::Copy, rehost_attachments };
        let gyms = [gym4_id()];
        let plan = |rehost| migrate::plan::plan(&w.store, &w.client, &gyms, options(rehost), chrono::Utc::now());
        let counted = plan(false).await.unwrap();
        let room = counted.gyms[0].channels.iter().find(|c| c.old_cid == "messaging:direct_user_10_user_8").unwrap();
        assert_eq!(room.conversation.cdn_attachments, 1, "one file, named twice; the other picture is elsewhere");
        assert!(!room.rehost_attachments);

        let p = plan(true).await.unwrap();
        let report = migrate::apply(&w.store, &w.client, &p, ApplyOptions::default(), &|_| {}).await.unwrap();
        assert_eq!(report.exit_code(), 0, "{report:#?}");
        let new = w.sandbox.channel("direct_gym_4_user_10_gym_4_user_8").await.unwrap();
        let copy = new["messages"].as_array().unwrap().iter().find(|m| m["original_id"] == "with-photo").unwrap().clone();
        let moved = copy["attachments"][0]["image_url"].as_str().unwrap();
        assert!(moved.starts_with(&format!("{}/_sandbox/cdn/messaging/direct_gym_4_user_10_gym_4_user_8/", w.url)), "{copy:#}");
        assert_eq!(copy["attachments"][0]["thumb_url"], moved, "the thumbnail is the same file, uploaded once");
        assert_eq!(copy["attachments"][1]["image_url"], ELSEWHERE, "a URL not on Stream's CDN stays");
        let (bytes, kind) = w.client.download(moved).await.unwrap();
        assert_eq!((bytes.as_ref(), kind.as_str()), (&b"\x89PNG not really a png"[..], "image/png"));
        let item = report.items.iter().find(|i| i.old_id == "messaging:direct_user_10_user_8").unwrap();
        assert_eq!(item.detail.as_ref().unwrap()["rehosted"], 1, "{item:#?}");
        let verified = migrate::verify(&w.store, &w.client, &gyms).await.unwrap();
        assert_eq!(verified.exit_code(), 0, "{verified:#?}");
    }
}
