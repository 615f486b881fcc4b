//! Heartbeats: sealed beats sent to every peer on every configured path.

pub mod codec;
pub mod message;
pub mod replay;
