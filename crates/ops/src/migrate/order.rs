//! The channel-list order (SYSTEM.md §5): members' channel lists sort by each channel's last
//! message, and a live copy cannot set `last_message_at`, so the new channels of a gym get
//! their last copy in the order of the old channels' last messages. Each rebuilt channel copies
//! everything but its last message, waits for its turn (every channel of its gym before it in
//! that order has sent its own last copy, or no longer will), sends it and passes the turn on.
//! Channels are started in that order, so the one whose turn it is never waits for one not yet
//! started. A worker learns its channels a gym at a time, as it claims them ([`LastMessageOrder::add`]);
//! the order holds among the channels each worker holds.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// One channel's place in a [`LastMessageOrder`].
#[derive(Clone, Copy)]
pub(crate) struct Turn<'a> {
    pub order: &'a LastMessageOrder,
    pub gym: i64,
    pub item: i64,
}

impl Turn<'_> {
    /// Waits for this channel's turn.
    pub(crate) async fn wait(&self) {
        self.order.turn(self.gym, self.item).await;
    }

    /// This channel has sent its last copy.
    pub(crate) fn pass(&self) {
        self.order.pass(self.item);
    }
}

/// Whose turn it is to send its last copy, per gym.
pub(crate) struct LastMessageOrder {
    /// Per gym, the channel items in the order of their old channels' last messages.
    queues: Mutex<BTreeMap<i64, Vec<i64>>>,
    /// Items that have sent their last copy, or no longer will.
    passed: Mutex<HashSet<i64>>,
    changed: watch::Sender<u64>,
}

impl LastMessageOrder {
    /// The order of `items` (gym, item id, the old channel's last message) within each gym:
    /// earliest last message first, channels without messages first of all, then by item id.
    pub(crate) fn new(items: impl IntoIterator<Item = (i64, i64, Option<DateTime<Utc>>)>) -> Self {
        let order = Self {
            queues: Mutex::new(BTreeMap::new()),
            passed: Mutex::new(HashSet::new()),
            changed: watch::Sender::new(0),
        };
        order.add(items);
        order
    }

    /// Adds `items` (gym, item id, the old channel's last message), each gym's after the ones it
    /// has; returns their ids in the order they start: gym by gym, each in its last-message order.
    pub(crate) fn add(&self, items: impl IntoIterator<Item = (i64, i64, Option<DateTime<Utc>>)>) -> Vec<i64> {
        let mut sorted: Vec<(i64, Option<DateTime<Utc>>, i64)> =
            items.into_iter().map(|(gym, id, last)| (gym, last, id)).collect();
        sorted.sort();
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        for (gym, _, id) in &sorted {
            queues.entry(*gym).or_default().push(*id);
        }
        drop(queues);
        // Those who waited may find the order longer, never shorter: nobody's turn changes.
        sorted.into_iter().map(|(_, _, id)| id).collect()
    }

    /// The item ids in the order they start: gym by gym, each in its last-message order.
    #[cfg(test)]
    pub(crate) fn start_order(&self) -> Vec<i64> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner()).values().flatten().copied().collect()
    }

    /// Waits until every item of `gym` before `item` has passed its turn.
    pub(crate) async fn turn(&self, gym: i64, item: i64) {
        let mut seen = self.changed.subscribe();
        loop {
            if self.is_turn_of(gym, item) {
                return;
            }
            if seen.changed().await.is_err() {
                return;
            }
        }
    }

    fn is_turn_of(&self, gym: i64, item: i64) -> bool {
        let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = queues.get(&gym) else { return true };
        let passed = self.passed.lock().unwrap_or_else(|e| e.into_inner());
        queue.iter().take_while(|i| **i != item).all(|i| passed.contains(i))
    }

    /// `item` has sent its last copy, or no longer will (it failed, or needs none): the next
    /// may go. Passing twice changes nothing.
    pub(crate) fn pass(&self, item: i64) {
        let newly = self.passed.lock().unwrap_or_else(|e| e.into_inner()).insert(item);
        if newly {
            self.changed.send_modify(|n| *n += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2025, 11, day, 12, 0, 0).unwrap())
    }

    #[test]
    fn channels_start_in_the_order_of_their_last_messages_gym_by_gym() {
        let order = LastMessageOrder::new([(4, 1, at(9)), (4, 2, at(3)), (5, 3, at(1)), (4, 4, None), (4, 5, at(3))]);
        assert_eq!(order.start_order(), vec![4, 2, 5, 1, 3]);
    }

    #[tokio::test]
    async fn a_channel_waits_for_those_before_it_in_its_gym_only() {
        let order = Arc::new(LastMessageOrder::new([(4, 1, at(1)), (4, 2, at(2)), (5, 3, at(3))]));
        order.turn(5, 3).await;
        let waiting = tokio::spawn({
            let order = order.clone();
            async move { order.turn(4, 2).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "item 1 has not sent its last copy");
        order.pass(1);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("its turn came").unwrap();
        order.pass(1);
        order.turn(4, 1).await;
    }
}
