//! The apps' routes under `/api/v1/chat`, one file per area.

pub(crate) mod analytics;
pub(crate) mod cleanup;
pub(crate) mod direct;
pub(crate) mod event;
pub(crate) mod general;
pub(crate) mod groups;
pub(crate) mod lists;
pub(crate) mod members;
pub(crate) mod orphan;
pub(crate) mod token;
pub(crate) mod visibility;
