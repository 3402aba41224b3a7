//! The pacer's rules, each on its own: first calls, bursts, shares, other traffic, windows.

use super::*;
use crate::error::RateLimit;

/// A call answered with these headers (its slot's wait ignored).
fn answer(pacer: &Pacer, op: &'static str, limit: u64, remaining: u64, reset: u64) {
    let seq = pacer.reserve(op).seq;
    pacer.answered(op, seq, Some(RateLimit { limit, remaining, reset }));
}

#[test]
fn the_first_call_goes_at_once_and_the_rest_are_spread_over_the_window() {
    let pacer = Pacer::new(0.5);
    // DeleteChannel: 60 a minute, half of it is 30; before any answer, 29 over the ~59 s left.
    assert_eq!(pacer.reserve("DeleteChannel").wait, Duration::ZERO);
    let second = pacer.reserve("DeleteChannel").wait;
    assert!(second > Duration::from_millis(1_900) && second < Duration::from_millis(2_100), "{second:?}");
}

#[test]
fn alone_in_the_window_calls_go_at_the_burst_caps_pace() {
    let pacer = Pacer::new(0.5);
    let now_s = now_us() / 1_000_000;
    // An answer showing nobody else spent the window: 59 of 60 left after gymchat's call.
    answer(&pacer, "DeleteChannel", 60, 59, now_s + 60);
    // A burst cap of 2 a second (120 a minute); the live app keeps at least its half of the
    // window (30), and gymchat takes 0.6 of the 90 left: 54 a minute, one every 1.11 s, until
    // its 30 of the window are spent.
    let first = pacer.reserve("DeleteChannel").wait;
    let waits: Vec<Duration> = (1..29).map(|_| pacer.reserve("DeleteChannel").wait - first).collect();
    for (n, wait) in waits.iter().enumerate() {
        let expected = 1_111 * (n as u64 + 1);
        let ms = wait.as_millis() as u64;
        assert!(ms + 5 >= expected && ms <= expected + 5, "call {}: {wait:?}", n + 2);
    }
    // The 31st belongs to the next window.
    assert!(pacer.reserve("DeleteChannel").wait >= Duration::from_secs(55));
}

#[test]
fn a_window_never_gets_more_than_the_share() {
    let pacer = Pacer::new(1.0);
    let now_s = now_us() / 1_000_000;
    // One call answered (59 left), then reservations until one falls in the next window.
    answer(&pacer, "DeleteChannel", 60, 59, now_s + 60);
    let window_end = pacer.reserve("DeleteChannel").window_end_us;
    let mut in_window = 2;
    loop {
        let slot = pacer.reserve("DeleteChannel");
        if slot.window_end_us != window_end {
            break;
        }
        in_window += 1;
    }
    assert_eq!(in_window, 60, "the whole limit, not one more");
}

#[test]
fn others_spending_the_window_slow_the_pacer_down() {
    let alone = Pacer::new(0.5);
    let shared = Pacer::new(0.5);
    let now_s = now_us() / 1_000_000;
    answer(&alone, "UpdateUsers", 300, 299, now_s + 60);
    // Others have spent 279 of 300 in the window so far: they are on course to spend it all.
    answer(&shared, "UpdateUsers", 300, 20, now_s + 60);
    alone.reserve("UpdateUsers");
    shared.reserve("UpdateUsers");
    let (a, s) = (alone.reserve("UpdateUsers").wait, shared.reserve("UpdateUsers").wait);
    assert!(s > a * 10, "alone {a:?}, with the window nearly spent by others {s:?}");
}

#[test]
fn an_exhausted_window_holds_calls_until_its_reset() {
    let pacer = Pacer::new(0.5);
    let reset = now_us() / 1_000_000 + 3;
    answer(&pacer, "GetApp", 10_000, 0, reset);
    assert!(pacer.reserve("GetApp").wait > Duration::from_secs(1));
}

#[test]
fn a_window_learnt_by_one_operation_is_not_taken_by_another() {
    let pacer = Pacer::new(0.5);
    let now_s = now_us() / 1_000_000;
    for k in 1..=3 {
        answer(&pacer, "QueryChannels", 10_000, 9_999, now_s + k);
    }
    assert_eq!(pacer.window("QueryChannels"), Duration::from_secs(1));
    assert_eq!(pacer.window("UpdateChannel"), Duration::from_secs(60), "only what its own answers show");
}

#[test]
fn a_pacer_told_the_window_paces_for_it_from_the_first_call() {
    let told = Pacer::new(1.0).with_window(Duration::from_secs(1));
    assert_eq!(told.window("UpdateChannel"), Duration::from_secs(1));
    // 300 a one-second window: after the first call, the next slots are milliseconds apart,
    // not the fifth of a second a minute's pace would give.
    told.reserve("UpdateChannel");
    let second = told.reserve("UpdateChannel").wait;
    assert!(second < Duration::from_millis(10), "{second:?}");
    let minute = Pacer::new(1.0).with_window(Duration::from_secs(60));
    assert_eq!(minute.window("UpdateChannel"), Duration::from_secs(60));
    minute.reserve("UpdateChannel");
    assert!(minute.reserve("UpdateChannel").wait > Duration::from_millis(150));
}

#[test]
fn one_odd_reset_does_not_change_the_pacing() {
    let pacer = Pacer::new(0.5);
    let now_s = now_us() / 1_000_000;
    // Two resets a second apart (one reading of a one-second period), then the next minute's.
    answer(&pacer, "UpdateUsers", 300, 299, now_s + 1);
    answer(&pacer, "UpdateUsers", 300, 298, now_s + 2);
    answer(&pacer, "UpdateUsers", 300, 297, now_s + 62);
    assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(60));
    // Readings of different periods do not add up either.
    for k in [63, 65, 68] {
        answer(&pacer, "UpdateUsers", 300, 296, now_s + k);
    }
    assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(60));
}

#[test]
fn a_window_shorter_than_a_second_is_never_learnt() {
    let pacer = Pacer::new(0.5);
    let now_s = now_us() / 1_000_000;
    // Resets one second apart read as one-second windows; equal resets read as no period at all.
    for _ in 0..5 {
        answer(&pacer, "UpdateUsers", 300, 299, now_s + 1);
    }
    assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(60));
}

#[test]
fn calls_due_together_depart_one_by_one_within_the_burst_cap() {
    let pacer = Pacer::new(0.5);
    let now_s = now_us() / 1_000_000;
    answer(&pacer, "UpdateUsers", 300, 299, now_s + 60);
    // Eight calls whose slots all fell due while the process was descheduled wake at once.
    let waits: Vec<Duration> = (0..8).map(|_| pacer.depart("UpdateUsers")).collect();
    // The cap is 10 a second (twice 300 a minute); the live app is left at least its half
    // (2.5 a second), so gymchat departs at most 0.6 × 7.5 = 4.5 a second: 222 ms apart.
    for pair in waits.windows(2) {
        let gap = pair[1].saturating_sub(pair[0]);
        assert!(gap >= Duration::from_millis(215) && gap <= Duration::from_millis(230), "{waits:?}");
    }
}

#[test]
fn fast_operations_are_not_held_to_one_departure_a_timer_tick() {
    let pacer = Pacer::new(1.0);
    let now_s = now_us() / 1_000_000;
    for k in 1..=3 {
        answer(&pacer, "GetOrCreateChannel", 10_000, 9_999, now_s + k);
    }
    // One-second windows of 10,000: the shortest gap is 1 s / (0.6 × 20,000) ≈ 83 µs, so the
    // first twelve calls due together leave at once, and later ones wait their turn.
    let waits: Vec<Duration> = (0..40).map(|_| pacer.depart("GetOrCreateChannel")).collect();
    let at_once = waits.iter().take_while(|w| w.is_zero()).count();
    assert!((10..=13).contains(&at_once), "{waits:?}");
    assert!(waits[39] >= Duration::from_millis(2) && waits[39] <= Duration::from_millis(4), "{waits:?}");
}

#[test]
fn a_shorter_window_is_believed_once_three_windows_show_it() {
    let pacer = Pacer::new(0.5);
    let now_s = now_us() / 1_000_000;
    answer(&pacer, "UpdateUsers", 300, 299, now_s + 1);
    answer(&pacer, "UpdateUsers", 300, 298, now_s + 1);
    assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(60), "one window says nothing of its length");
    answer(&pacer, "UpdateUsers", 300, 299, now_s + 2);
    assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(60), "one reading is not enough");
    answer(&pacer, "UpdateUsers", 300, 299, now_s + 3);
    assert_eq!(pacer.window("UpdateUsers"), Duration::from_secs(1));
    // A one-second window with 150 allowed: slots about 6.5 ms apart once the first has gone.
    let wait = |p: &Pacer| p.reserve("UpdateUsers").wait;
    wait(&pacer);
    wait(&pacer);
    let third = wait(&pacer);
    assert!(third > Duration::from_millis(3), "{third:?}");
}
