//! An incremental Server-Sent Events decoder (the WHATWG "event stream" format): feed it bytes
//! as they arrive, in chunks of any size, and take complete events out.

use std::collections::VecDeque;

use crate::{MAX_FRAME_BYTES, ParseError};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, `message` when absent.
    pub event: String,
    /// The `data:` lines joined by `\n`.
    pub data: String,
    /// The last event id seen so far in the stream (`id:`), to send back as `Last-Event-ID`.
    pub id: Option<String>,
    /// A `retry:` reconnection delay, in milliseconds, if this event set one.
    pub retry_ms: Option<u64>,
}

/// Incremental SSE decoder. Lines may end in `\n`, `\r\n` or `\r`, even split across chunks;
/// comments (`:` lines, Mastodon's heartbeats) are skipped; a UTF-8 byte-order mark at the start
/// is dropped. A line or an event larger than the limit (1 MiB by default) is an error, after
/// which the decoder discards what it had buffered (the caller should reconnect).
#[derive(Debug, Clone)]
pub struct SseDecoder {
    limit: usize,
    buf: Vec<u8>,
    skip_lf: bool,
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry_ms: Option<u64>,
    ready: VecDeque<SseEvent>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default 1 MiB limit per line and per event.
    pub fn new() -> Self {
        Self::with_limit(MAX_FRAME_BYTES)
    }

    /// A decoder with another size limit (bytes per line and per event).
    pub fn with_limit(limit: usize) -> Self {
        Self {
            limit,
            buf: Vec::new(),
            skip_lf: false,
            started: false,
            event: String::new(),
            data: String::new(),
            has_data: false,
            last_id: None,
            retry_ms: None,
            ready: VecDeque::new(),
        }
    }

    /// The last `id:` seen, for `Last-Event-ID` on reconnection.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Feeds a chunk. Complete events become available through [`SseDecoder::next_event`].
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), ParseError> {
        if self.skip_lf && !chunk.is_empty() {
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.skip_lf = false;
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.buf.extend_from_slice(chunk);
                    if self.buf.len() > self.limit {
                        return Err(self.overflow(self.buf.len()));
                    }
                    break;
                }
                Some(i) => {
                    if self.buf.len() + i > self.limit {
                        return Err(self.overflow(self.buf.len() + i));
                    }
                    self.buf.extend_from_slice(&chunk[..i]);
                    let cr = chunk[i] == b'\r';
                    chunk = &chunk[i + 1..];
                    if cr {
                        match chunk.first() {
                            Some(b'\n') => chunk = &chunk[1..],
                            Some(_) => {}
                            None => self.skip_lf = true,
                        }
                    }
                    let line = std::mem::take(&mut self.buf);
                    let result = self.line(&line);
                    self.buf = line;
                    self.buf.clear();
                    result?;
                }
            }
        }
        Ok(())
    }

    /// The next complete event, if any.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }

    fn overflow(&mut self, len: usize) -> ParseError {
        self.buf.clear();
        self.event.clear();
        self.data.clear();
        self.has_data = false;
        ParseError::TooLarge {
            len,
            max: self.limit,
        }
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), ParseError> {
        let mut raw = raw;
        if !self.started {
            self.started = true;
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        let line = std::str::from_utf8(raw).map_err(|_| ParseError::NotUtf8)?;
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => {
                self.event.clear();
                self.event.push_str(value);
            }
            "data" => {
                if self.data.len() + value.len() + 1 > self.limit {
                    let len = self.data.len() + value.len() + 1;
                    return Err(self.overflow(len));
                }
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = value.parse().ok();
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self) {
        if !self.has_data {
            self.event.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event = if self.event.is_empty() {
            "message".to_string()
        } else {
            std::mem::take(&mut self.event)
        };
        self.event.clear();
        self.has_data = false;
        self.ready.push_back(SseEvent {
            event,
            data,
            id: self.last_id.clone(),
            retry_ms: self.retry_ms.take(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut SseDecoder) -> Vec<SseEvent> {
        std::iter::from_fn(|| d.next_event()).collect()
    }

    #[test]
    fn events_split_anywhere_and_any_line_ending_decode_the_same() {
        let stream = b"\xEF\xBB\xBF:thump\r\nevent: update\r\ndata: {\"a\":\r\ndata: 1}\r\nid: 7\r\n\r\ndata: plain\rretry: 1500\r\r: bye\n\n";
        let mut whole = SseDecoder::new();
        whole.feed(stream).unwrap();
        let expected = all(&mut whole);
        assert_eq!(expected.len(), 2);
        assert_eq!(
            expected[0],
            SseEvent {
                event: "update".into(),
                data: "{\"a\":\n1}".into(),
                id: Some("7".into()),
                retry_ms: None
            }
        );
        assert_eq!(expected[1].event, "message");
        assert_eq!(expected[1].data, "plain");
        assert_eq!(expected[1].retry_ms, Some(1500));
        for size in 1..8 {
            let mut d = SseDecoder::new();
            for chunk in stream.chunks(size) {
                d.feed(chunk).unwrap();
            }
            assert_eq!(all(&mut d), expected, "chunk size {size}");
        }
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_its_type_is_reset() {
        let mut d = SseDecoder::new();
        d.feed(b"event: delete\n\ndata: x\n\n").unwrap();
        let got = all(&mut d);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event, "message");
    }

    #[test]
    fn oversized_lines_and_events_are_errors_and_the_decoder_recovers() {
        let mut d = SseDecoder::with_limit(16);
        assert!(matches!(
            d.feed(&[b'x'; 40]),
            Err(ParseError::TooLarge { .. })
        ));
        let mut d = SseDecoder::with_limit(16);
        assert!(matches!(
            d.feed(b"data: 0123456789\ndata: 0123456789\n"),
            Err(ParseError::TooLarge { .. })
        ));
        d.feed(b"\ndata: ok\n\n").unwrap();
        assert_eq!(all(&mut d).pop().unwrap().data, "ok");
        let mut d = SseDecoder::new();
        assert_eq!(d.feed(b"data: \xff\xfe\n"), Err(ParseError::NotUtf8));
    }
}
