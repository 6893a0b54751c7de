//! The audit log's hash chain. Every change is an event; each event's hash covers its own
//! fields and the previous event's hash, and a separate chain head records the last
//! sequence number and hash, so that an edited, removed, reordered or truncated event
//! breaks verification.

use sha2::{Digest, Sha256};

/// The hash that precedes the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event as stored. `before` and `after` are the exact JSON text that was hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub kind: String,
    pub entity: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields of an event before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    pub at_ms: i64,
    pub actor: String,
    pub kind: String,
    pub entity: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Hash of one event: SHA-256 over length-prefixed fields, so that no two different
/// events can produce the same byte string.
pub fn event_hash(prev_hash: &str, seq: i64, draft: &EventDraft) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&seq.to_be_bytes());
    field(&draft.at_ms.to_be_bytes());
    field(draft.actor.as_bytes());
    field(draft.kind.as_bytes());
    field(draft.entity.as_bytes());
    for part in [&draft.before, &draft.after] {
        match part {
            Some(text) => {
                field(b"1");
                field(text.as_bytes());
            }
            None => field(b"0"),
        }
    }
    hex::encode(h.finalize())
}

/// The running end of the chain: what the next event links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        }
    }
}

impl ChainHead {
    /// Chains a draft onto this head and advances the head.
    pub fn append(&mut self, draft: EventDraft) -> ChainedEvent {
        let seq = self.seq + 1;
        let hash = event_hash(&self.hash, seq, &draft);
        let event = ChainedEvent {
            seq,
            at_ms: draft.at_ms,
            actor: draft.actor,
            kind: draft.kind,
            entity: draft.entity,
            before: draft.before,
            after: draft.after,
            prev_hash: std::mem::replace(&mut self.hash, hash.clone()),
            hash,
        };
        self.seq = seq;
        event
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("event {seq}: its content does not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("event {seq}: expected sequence number {expected} (an event was removed or reordered)")]
    Gap { seq: i64, expected: i64 },
    #[error(
        "event {seq}: it does not link to the previous event's hash (removed, inserted or reordered)"
    )]
    Unlinked { seq: i64 },
    #[error(
        "the chain ends at event {last_seq} but the chain head records event {head_seq} (events removed from the end, or the head was edited)"
    )]
    HeadMismatch { last_seq: i64, head_seq: i64 },
}

impl ChainBreak {
    /// The sequence number of the first bad event.
    pub fn first_bad_seq(&self) -> i64 {
        match self {
            ChainBreak::Edited { seq }
            | ChainBreak::Gap { seq, .. }
            | ChainBreak::Unlinked { seq } => *seq,
            ChainBreak::HeadMismatch { last_seq, .. } => last_seq + 1,
        }
    }
}

/// Incremental verifier: feed events in ascending `seq` order, then `finish` with the
/// stored chain head. Holds O(1) state so that verification streams over any log size.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    expected: ChainHead,
    checked: u64,
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, event: &ChainedEvent) -> Result<(), ChainBreak> {
        let expected_seq = self.expected.seq + 1;
        if event.seq != expected_seq {
            return Err(ChainBreak::Gap {
                seq: event.seq,
                expected: expected_seq,
            });
        }
        if event.prev_hash != self.expected.hash {
            return Err(ChainBreak::Unlinked { seq: event.seq });
        }
        let draft = EventDraft {
            at_ms: event.at_ms,
            actor: event.actor.clone(),
            kind: event.kind.clone(),
            entity: event.entity.clone(),
            before: event.before.clone(),
            after: event.after.clone(),
        };
        if event_hash(&event.prev_hash, event.seq, &draft) != event.hash {
            return Err(ChainBreak::Edited { seq: event.seq });
        }
        self.expected = ChainHead {
            seq: event.seq,
            hash: event.hash.clone(),
        };
        self.checked += 1;
        Ok(())
    }

    /// Compares the end of the chain with the stored head. Returns the number of events checked.
    pub fn finish(self, stored_head: &ChainHead) -> Result<u64, ChainBreak> {
        if stored_head != &self.expected {
            return Err(ChainBreak::HeadMismatch {
                last_seq: self.expected.seq,
                head_seq: stored_head.seq,
            });
        }
        Ok(self.checked)
    }
}

/// Verifies a whole chain held in memory.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a ChainedEvent>,
    stored_head: &ChainHead,
) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::new();
    for e in events {
        v.check(e)?;
    }
    v.finish(stored_head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn draft(i: i64) -> EventDraft {
        EventDraft {
            at_ms: 1_700_000_000_000 + i,
            actor: format!("user{}", i % 3),
            kind: "case.note_added".into(),
            entity: format!("case:{}", i % 5),
            before: (i % 2 == 0).then(|| format!("{{\"n\":{i}}}")),
            after: Some(format!("{{\"n\":{}}}", i + 1)),
        }
    }

    fn chain(n: i64) -> (Vec<ChainedEvent>, ChainHead) {
        let mut head = ChainHead::default();
        let events = (0..n).map(|i| head.append(draft(i))).collect();
        (events, head)
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (events, head) = chain(10);
        assert_eq!(verify_chain(&events, &head), Ok(10));
        assert_eq!(verify_chain(&[], &ChainHead::default()), Ok(0));
    }

    #[test]
    fn an_edited_event_is_named() {
        let (mut events, head) = chain(10);
        events[4].actor = "mallory".into();
        assert_eq!(
            verify_chain(&events, &head),
            Err(ChainBreak::Edited { seq: 5 })
        );
    }

    #[test]
    fn a_removed_event_is_named() {
        let (mut events, head) = chain(10);
        events.remove(6);
        assert_eq!(
            verify_chain(&events, &head),
            Err(ChainBreak::Gap {
                seq: 8,
                expected: 7
            })
        );
    }

    #[test]
    fn reordered_events_are_caught_even_with_renumbered_sequences() {
        let (mut events, head) = chain(10);
        events.swap(2, 3);
        let (a, b) = (events[2].seq, events[3].seq);
        events[2].seq = b;
        events[3].seq = a;
        assert_eq!(
            verify_chain(&events, &head),
            Err(ChainBreak::Unlinked { seq: 3 })
        );
    }

    #[test]
    fn a_truncated_tail_is_caught_by_the_head() {
        let (mut events, head) = chain(10);
        events.pop();
        assert_eq!(
            verify_chain(&events, &head),
            Err(ChainBreak::HeadMismatch {
                last_seq: 9,
                head_seq: 10
            })
        );
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let a = EventDraft {
            at_ms: 1,
            actor: "ab".into(),
            kind: "c".into(),
            entity: "".into(),
            before: None,
            after: None,
        };
        let b = EventDraft {
            actor: "a".into(),
            kind: "bc".into(),
            ..a.clone()
        };
        assert_ne!(
            event_hash(GENESIS_HASH, 1, &a),
            event_hash(GENESIS_HASH, 1, &b)
        );
        let c = EventDraft {
            before: Some(String::new()),
            ..a.clone()
        };
        assert_ne!(
            event_hash(GENESIS_HASH, 1, &a),
            event_hash(GENESIS_HASH, 1, &c)
        );
    }

    proptest! {
        #[test]
        fn any_single_field_edit_is_detected(n in 1i64..30, victim in 0usize..30, field in 0u8..6) {
            let (mut events, head) = chain(n);
            let i = victim % events.len();
            let e = &mut events[i];
            match field {
                0 => e.at_ms += 1,
                1 => e.actor.push('x'),
                2 => e.kind.push('x'),
                3 => e.entity.push('x'),
                4 => e.before = Some(e.before.clone().unwrap_or_default() + " "),
                _ => e.after = None,
            }
            let err = verify_chain(&events, &head).unwrap_err();
            prop_assert_eq!(err.first_bad_seq(), events[i].seq);
        }
    }
}
