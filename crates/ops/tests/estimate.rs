//! The plan's estimate paces by the app's real limits (`GET /rate_limits`; plans differ from
//! Stream's documented defaults) and says where they come from; without them, the defaults.

use gymchat_ops::migrate::{History, Strategy};
use gymchat_sandbox::LimitMode;
use gymchat_testkit::on_both_backends;

mod support;

use support::journey::plan;
use support::{gym4_fixture, gym4_snapshot, world_configured};

on_both_backends! {
    async fn the_estimate_uses_the_apps_own_limits(db) {
        // An app on a plan that sends 60 messages a minute, not 1,000.
        let slow = [("SendMessage".to_owned(), 60)].into_iter().collect();
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |c| c.limits = LimitMode::with_overrides(slow)).await;
        let p = plan(&w, Strategy::Rebuild, History::Copy).await;
        assert!(p.limits.source.contains("GET /rate_limits"), "{}", p.limits.source);
        assert_eq!((p.limits.of("SendMessage"), p.limits.of("GetOrCreateChannel")), (60, 10_000));
        let copy = p.estimates.iter().find(|e| e.history == History::Copy).unwrap();
        let sends = copy.channel_calls["SendMessage"];
        assert!(sends > 0);
        assert_eq!(copy.bottleneck.as_deref(), Some("SendMessage"));
        // At 60 a minute each send takes a second of the full budget.
        assert!(copy.min_wall_seconds_full_budget >= sends as f64, "{copy:#?}");
    }
}

on_both_backends! {
    async fn without_the_apps_limits_the_estimate_uses_the_documented_ones(db) {
        // Limits off: the app reports none.
        let w = world_configured(&db, &gym4_fixture(), gym4_snapshot(), |_| {}).await;
        let p = plan(&w, Strategy::Rebuild, History::Copy).await;
        assert!(p.limits.source.contains("documented defaults"), "{}", p.limits.source);
        assert_eq!(p.limits.of("SendMessage"), 1_000);
    }
}
