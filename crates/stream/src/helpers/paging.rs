//! Paging through one channel: every member, and the whole history.

use std::collections::HashSet;
use std::future::Future;

use gymchat_ids::{Cid, StreamUserId};

use crate::client::Client;
use crate::error::{ErrorKind, StreamError};
use crate::limits::{MAX_MEMBER_OFFSET, MEMBER_PAGE, MESSAGE_PAGE};
use crate::model::{ChannelState, Member, Message};

impl Client {
    /// Completes the member lists that a channel query cut at 100.
    pub(crate) async fn complete_members(&self, channels: &mut [ChannelState]) -> Result<(), StreamError> {
        for state in channels {
            let count = state.channel.member_count.unwrap_or(0) as usize;
            if count > state.members.len() {
                state.members = self.channel_member_objects(&state.channel.cid).await?;
            }
        }
        Ok(())
    }

    /// The channel with every member, in one read when it has at most a page of them (300)
    /// and paging on otherwise.
    pub async fn channel_with_members(&self, cid: &Cid) -> Result<ChannelState, StreamError> {
        let mut state = self.channel_members_page(cid, 0).await?;
        if state.members.len() as u32 >= MEMBER_PAGE {
            state.members = self.channel_member_objects(cid).await?;
        }
        Ok(state)
    }

    /// Every member of a channel, paging 300 at a time (Stream's offset stops at 10,000).
    pub async fn channel_members(&self, cid: &Cid) -> Result<Vec<StreamUserId>, StreamError> {
        Ok(self.channel_member_objects(cid).await?.into_iter().map(|m| m.user_id).collect())
    }

    /// Every member of a channel with their role, paging as [`Client::channel_members`] does.
    pub async fn channel_member_objects(&self, cid: &Cid) -> Result<Vec<Member>, StreamError> {
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        loop {
            let page = self.channel_members_page(cid, offset).await?;
            let len = page.members.len() as u32;
            let before = members.len();
            for m in page.members {
                if seen.insert(m.user_id.clone()) {
                    members.push(m);
                }
            }
            offset = offset.saturating_add(len);
            if len < MEMBER_PAGE {
                return Ok(members);
            }
            if members.len() == before {
                let why = format!("{cid}: a full page of members at offset {offset} held none not seen before");
                return Err(StreamError::new("GetOrCreateChannel", ErrorKind::Incomplete(why)));
            }
            if offset > MAX_MEMBER_OFFSET {
                let why = format!("{cid} has more members than Stream's member paging reaches ({offset} read)");
                return Err(StreamError::new("GetOrCreateChannel", ErrorKind::Incomplete(why)));
            }
        }
    }

    /// The channel's whole history, oldest first, paging back 300 messages at a time. A full page
    /// whose oldest message was seen already (an answer that ignores `id_lt`) ends the read with
    /// an error instead of asking for it again.
    pub async fn channel_history(&self, cid: &Cid) -> Result<Vec<Message>, StreamError> {
        page_back("GetOrCreateChannel", &format!("{cid}'s history"), |before| async move {
            Ok(self.get_or_create_channel(cid, None, MESSAGE_PAGE, before.as_deref()).await?.body.messages)
        })
        .await
    }
}

/// Messages read back 300 at a time, oldest first: `fetch(before)` reads the page before that
/// message (the newest page first). A full page whose oldest message was seen already (an answer
/// that ignores `id_lt`) ends the read with an error instead of asking for it again.
pub(crate) async fn page_back<F, Fut>(
    operation: &'static str,
    what: &str,
    mut fetch: F,
) -> Result<Vec<Message>, StreamError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Vec<Message>, StreamError>>,
{
    let mut pages: Vec<Vec<Message>> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut before: Option<String> = None;
    loop {
        let page = fetch(before.clone()).await?;
        let full = page.len() as u32 >= MESSAGE_PAGE;
        let oldest = page.first().map(|m| m.id.clone());
        if full && oldest.as_ref().is_some_and(|id| !seen.insert(id.clone())) {
            let why = format!("{what}: a full page before {before:?} started with a message seen already");
            return Err(StreamError::new(operation, ErrorKind::Incomplete(why)));
        }
        pages.push(page);
        before = oldest;
        if !full || before.is_none() {
            break;
        }
    }
    Ok(pages.into_iter().rev().flatten().collect())
}
