//! A small, fast RFC 4180 CSV record reader over any `Read`.
//!
//! Fields are separated by `,`, records by `\n` or `\r\n`; a field may be quoted with `"` and
//! then contain separators, newlines and doubled quotes (`""`). Blank lines are skipped and a
//! UTF-8 byte-order mark at the start is ignored. Every record's fields are copied (unescaped)
//! into one reusable buffer, so reading allocates nothing per record.

use std::io::Read;

use crate::{Result, StatsError};

const CHUNK: usize = 1 << 20;

/// Reads CSV records from a `Read`.
pub struct CsvReader<R> {
    inner: R,
    input: String,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    started: bool,
    line: u64,
    bytes_read: u64,
    field_data: Vec<u8>,
    field_ends: Vec<usize>,
    record_line: u64,
}

/// One record: its fields and the line it starts on (1-based).
pub struct Record<'a> {
    /// 1-based line number where the record starts
    pub line: u64,
    data: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the record has no fields (never true for records returned by the reader).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i` as bytes.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..end])
    }

    /// Field `i` as text (lossy for invalid UTF-8).
    pub fn get_str(&self, i: usize) -> Option<std::borrow::Cow<'a, str>> {
        self.get(i).map(String::from_utf8_lossy)
    }
}

enum Step {
    Done,
    NeedMore,
}

impl<R: Read> CsvReader<R> {
    /// A reader over `inner`; `input` names the input in error messages.
    pub fn new(inner: R, input: &str) -> Self {
        CsvReader {
            inner,
            input: input.to_string(),
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            eof: false,
            started: false,
            line: 1,
            bytes_read: 0,
            field_data: Vec::with_capacity(256),
            field_ends: Vec::with_capacity(16),
            record_line: 0,
        }
    }

    /// Bytes consumed from the underlying reader so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    fn fill(&mut self) -> Result<()> {
        // keep the unconsumed tail, then read more
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.end == self.buf.len() {
            let n = self.buf.len();
            self.buf.resize(n * 2, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    self.bytes_read += n as u64;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if !self.started && (self.end >= 3 || self.eof) {
            self.started = true;
            if self.buf[..self.end].starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.pos = 3;
            }
        }
        Ok(())
    }

    /// Parse one record starting at `self.pos`. On `NeedMore` nothing is consumed.
    fn parse(&mut self) -> Result<Step> {
        self.field_data.clear();
        self.field_ends.clear();
        let buf = &self.buf[..self.end];
        let mut i = self.pos;
        let mut lines = 0u64;
        loop {
            // start of a field
            if i < buf.len() && buf[i] == b'"' {
                i += 1;
                loop {
                    // scan quoted content
                    let start = i;
                    while i < buf.len() && buf[i] != b'"' {
                        if buf[i] == b'\n' {
                            lines += 1;
                        }
                        i += 1;
                    }
                    self.field_data.extend_from_slice(&buf[start..i]);
                    if i >= buf.len() {
                        if self.eof {
                            return Err(StatsError::Malformed {
                                input: self.input.clone(),
                                line: self.line,
                                message: "unterminated quoted field".into(),
                            });
                        }
                        return Ok(Step::NeedMore);
                    }
                    // buf[i] == '"'
                    if i + 1 < buf.len() && buf[i + 1] == b'"' {
                        self.field_data.push(b'"');
                        i += 2;
                        continue;
                    }
                    if i + 1 >= buf.len() && !self.eof {
                        return Ok(Step::NeedMore);
                    }
                    i += 1;
                    break;
                }
                // after the closing quote: tolerate stray bytes up to the separator
                while i < buf.len() && !matches!(buf[i], b',' | b'\n' | b'\r') {
                    self.field_data.push(buf[i]);
                    i += 1;
                }
            } else {
                let start = i;
                while i < buf.len() && !matches!(buf[i], b',' | b'\n' | b'\r') {
                    i += 1;
                }
                self.field_data.extend_from_slice(&buf[start..i]);
            }
            self.field_ends.push(self.field_data.len());
            if i >= buf.len() {
                if !self.eof {
                    return Ok(Step::NeedMore);
                }
                self.pos = i;
                self.line += lines;
                return Ok(Step::Done);
            }
            match buf[i] {
                b',' => {
                    i += 1;
                }
                b'\r' => {
                    if i + 1 >= buf.len() && !self.eof {
                        return Ok(Step::NeedMore);
                    }
                    i += 1;
                    if i < buf.len() && buf[i] == b'\n' {
                        i += 1;
                    }
                    self.pos = i;
                    self.line += lines + 1;
                    return Ok(Step::Done);
                }
                _ => {
                    // '\n'
                    self.pos = i + 1;
                    self.line += lines + 1;
                    return Ok(Step::Done);
                }
            }
        }
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>> {
        loop {
            if !self.started {
                self.fill()?;
                continue;
            }
            // skip blank lines
            while self.pos < self.end && matches!(self.buf[self.pos], b'\n' | b'\r') {
                // a line ends at '\n', or at a '\r' not followed by '\n'
                let lone_cr = self.buf[self.pos] == b'\r'
                    && self.pos + 1 < self.end
                    && self.buf[self.pos + 1] != b'\n';
                if self.buf[self.pos] == b'\n' || lone_cr {
                    self.line += 1;
                }
                self.pos += 1;
            }
            if self.pos >= self.end {
                if self.eof {
                    return Ok(None);
                }
                self.fill()?;
                continue;
            }
            let line = self.line;
            match self.parse()? {
                Step::Done => {
                    self.record_line = line;
                    break;
                }
                Step::NeedMore => {
                    self.fill()?;
                }
            }
        }
        Ok(Some(Record {
            line: self.record_line,
            data: &self.field_data,
            ends: &self.field_ends,
        }))
    }
}

/// Find the index of each wanted column in a header record; a missing column is an error that
/// names it and lists the header.
pub fn column_indices(header: &Record<'_>, wanted: &[&str], input: &str) -> Result<Vec<usize>> {
    let names: Vec<String> = (0..header.len())
        .map(|i| header.get_str(i).unwrap_or_default().trim().to_string())
        .collect();
    wanted
        .iter()
        .map(|w| {
            names
                .iter()
                .position(|n| n == w)
                .ok_or_else(|| StatsError::MissingColumn {
                    input: input.to_string(),
                    column: (*w).to_string(),
                    header: names.join(","),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8]) -> Vec<(u64, Vec<String>)> {
        // tiny reads to exercise refills at every position
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(3);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = CsvReader::new(Slow(text), "test");
        let mut v = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            v.push((
                rec.line,
                (0..rec.len())
                    .map(|i| rec.get_str(i).unwrap().into_owned())
                    .collect(),
            ));
        }
        v
    }

    #[test]
    fn plain_records_with_crlf_and_blank_lines_are_split() {
        let v = all(b"\xEF\xBB\xBFa,b,c\r\n1,2,3\r\n\r\n4,,6\n7,8,9");
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].1, ["a", "b", "c"]);
        assert_eq!(v[2], (4, vec!["4".into(), "".into(), "6".into()]));
        assert_eq!(v[3].1, ["7", "8", "9"]);
    }

    #[test]
    fn quoted_fields_keep_commas_newlines_and_doubled_quotes() {
        let v = all(b"id,text\n1,\"a, \"\"b\"\"\nc\"\n2,\"\"\n");
        assert_eq!(v[1].1, ["1", "a, \"b\"\nc"]);
        assert_eq!(v[2], (4, vec!["2".into(), "".into()]));
    }

    #[test]
    fn an_unterminated_quote_is_an_error() {
        let mut r = CsvReader::new(&b"a\n\"oops"[..], "x");
        assert!(r.next_record().unwrap().is_some());
        assert!(matches!(
            r.next_record(),
            Err(StatsError::Malformed { line: 2, .. })
        ));
    }

    #[test]
    fn missing_columns_are_named() {
        let mut r = CsvReader::new(&b"id,var1\n"[..], "input");
        let h = r.next_record().unwrap().unwrap();
        let err = column_indices(&h, &["id", "var2"], "input").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("var2") && msg.contains("id,var1"), "{msg}");
    }
}
