//! `firewatch import posts FILE|-`: one JSON object per line, of any of three shapes.

use serde::Deserialize;

use crate::{
    Item, MAX_FRAME_BYTES, ParseError, Post, Source, check_size, parse_jetstream_frame,
    parse_mastodon_status, parse_mastodon_ws_message, parse_rfc3339_us,
};

/// firewatch's own post shape (one JSON object per line):
///
/// ```json
/// {"id": "required, unique", "text": "required",
///  "created_at": "RFC 3339" or "created_at_us": 1700000000000000 (one of them required),
///  "author": "handle (alias: author_handle)", "author_followers": 1234,
///  "lang": "en", "url": "https://...", "reply_to": "id", "quote_of": "id", "repost_of": "id",
///  "source": "bluesky|mastodon|feed|import (default import)"}
/// ```
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnPost {
    id: String,
    text: String,
    created_at: Option<String>,
    created_at_us: Option<i64>,
    #[serde(alias = "author_handle")]
    author: Option<String>,
    author_followers: Option<u64>,
    lang: Option<String>,
    url: Option<String>,
    reply_to: Option<String>,
    quote_of: Option<String>,
    repost_of: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    kind: Option<serde::de::IgnoredAny>,
    time_us: Option<serde::de::IgnoredAny>,
    account: Option<serde::de::IgnoredAny>,
    uri: Option<serde::de::IgnoredAny>,
    event: Option<serde::de::IgnoredAny>,
    payload: Option<serde::de::IgnoredAny>,
}

/// Parses one line of a posts JSONL file. The shape is recognised by its keys: a Jetstream frame
/// (`kind` + `time_us`), a Mastodon Status (`account` + `uri`), a Mastodon WebSocket streaming
/// message (`event` + `payload`), else firewatch's own post shape (documented on this module's
/// `OwnPost`: `id`, `text`, `created_at` or `created_at_us`, and optional `author`,
/// `author_followers`, `lang`, `url`, `reply_to`, `quote_of`, `repost_of`, `source`; unknown keys
/// are errors). Blank lines are [`Item::Ignored`].
pub fn parse_posts_jsonl_line(line: &str) -> Result<Item, ParseError> {
    check_size(line.len(), MAX_FRAME_BYTES)?;
    let line = line.trim();
    if line.is_empty() {
        return Ok(Item::Ignored("blank line"));
    }
    let probe: Probe = serde_json::from_str(line)?;
    if probe.kind.is_some() && probe.time_us.is_some() {
        return parse_jetstream_frame(line).map(|(item, _)| item);
    }
    if probe.account.is_some() && probe.uri.is_some() {
        return parse_mastodon_status(line);
    }
    if probe.event.is_some() && probe.payload.is_some() {
        return parse_mastodon_ws_message(line);
    }
    own_post(line)
}

fn own_post(line: &str) -> Result<Item, ParseError> {
    let p: OwnPost = serde_json::from_str(line)?;
    if p.id.trim().is_empty() {
        return Err(ParseError::Invalid {
            field: "id",
            reason: "empty".into(),
        });
    }
    let created_at_us = match (p.created_at_us, p.created_at.as_deref()) {
        (Some(us), _) => us,
        (None, Some(s)) => parse_rfc3339_us(s).ok_or_else(|| ParseError::Invalid {
            field: "created_at",
            reason: format!(
                "not an RFC 3339 time: {:?}",
                s.chars().take(40).collect::<String>()
            ),
        })?,
        (None, None) => return Err(ParseError::Missing("created_at")),
    };
    let source = match p.source.as_deref() {
        None | Some("import") => Source::Import,
        Some("bluesky") => Source::Bluesky,
        Some("mastodon") => Source::Mastodon,
        Some("feed") => Source::Feed,
        Some(other) => {
            return Err(ParseError::Invalid {
                field: "source",
                reason: format!(
                    "expected bluesky, mastodon, feed or import, got {:?}",
                    other.chars().take(20).collect::<String>()
                ),
            });
        }
    };
    Ok(Item::Post(Post {
        source,
        id: p.id,
        native_id: None,
        author_handle: p.author.unwrap_or_default(),
        author_followers: p.author_followers,
        text: p.text,
        lang: p.lang,
        created_at_us,
        url: p.url,
        reply_to: p.reply_to,
        quote_of: p.quote_of,
        repost_of: p.repost_of,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_shape_parses_with_either_time_field() {
        let a = parse_posts_jsonl_line(r#"{"id":"x1","text":"My charger melted","created_at":"2026-01-02T03:04:05Z","author":"@bob","lang":"en"}"#).unwrap();
        let b = parse_posts_jsonl_line(r#"{"id":"x1","text":"My charger melted","created_at_us":1767323045000000,"author_handle":"@bob","lang":"en"}"#).unwrap();
        assert_eq!(a, b);
        let Item::Post(p) = a else { panic!() };
        assert_eq!(
            (p.source, p.created_at_us),
            (Source::Import, 1_767_323_045_000_000)
        );
    }

    #[test]
    fn own_shape_errors_name_the_field() {
        assert_eq!(
            parse_posts_jsonl_line(r#"{"id":"x","text":"t"}"#).unwrap_err(),
            ParseError::Missing("created_at")
        );
        assert!(matches!(
            parse_posts_jsonl_line(r#"{"id":"x","text":"t","created_at_us":1,"source":"fax"}"#),
            Err(ParseError::Invalid {
                field: "source",
                ..
            })
        ));
        let unknown =
            parse_posts_jsonl_line(r#"{"id":"x","text":"t","created_at_us":1,"colour":"red"}"#)
                .unwrap_err();
        assert!(unknown.to_string().contains("colour"), "{unknown}");
        assert_eq!(
            parse_posts_jsonl_line("   ").unwrap(),
            Item::Ignored("blank line")
        );
        assert!(matches!(
            parse_posts_jsonl_line("[1,2]"),
            Err(ParseError::Json(_))
        ));
    }
}
