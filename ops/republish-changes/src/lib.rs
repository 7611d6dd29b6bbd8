//! `republish-changes`: an operator's command for the change events whose
//! batches the publish function gave up on. Each message of the failure
//! queue names a range of the audit table's stream; the range is read
//! again (from the audit table's stream, or past its retention from the
//! audit table), its committed changes are published again exactly as the
//! publish function would have (the same reading of the records, the same
//! bus adapter), and the message is deleted once all were accepted.
//! README "Change events" says when to run it.

pub mod failed_batch;
pub mod failure_queue;
pub mod republish;
pub mod source;
pub mod stream_range;
