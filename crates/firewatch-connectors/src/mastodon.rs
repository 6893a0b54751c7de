//! Mastodon: `Status` entities (REST and streaming payloads) and streaming events.

use serde::Deserialize;

use crate::{
    Engagement, Item, MAX_FRAME_BYTES, ParseError, Post, Source, check_size, html_to_text,
    parse_rfc3339_us,
};

#[derive(Deserialize)]
struct Status {
    id: String,
    uri: String,
    created_at: String,
    url: Option<String>,
    in_reply_to_id: Option<String>,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    content: String,
    language: Option<String>,
    account: Account,
    reblog: Option<Box<Status>>,
    replies_count: Option<i64>,
    reblogs_count: Option<i64>,
    favourites_count: Option<i64>,
    quote: Option<Quote>,
}

#[derive(Deserialize)]
struct Account {
    acct: String,
    followers_count: Option<i64>,
}

/// Mastodon 4.4+ `Quote` (`quoted_status` is a Status) or `ShallowQuote` (`quoted_status_id`).
#[derive(Deserialize)]
struct Quote {
    quoted_status: Option<QuotedStatus>,
}

#[derive(Deserialize)]
struct QuotedStatus {
    uri: Option<String>,
}

fn parse_status(json: &str) -> Result<Status, ParseError> {
    check_size(json.len(), MAX_FRAME_BYTES)?;
    Ok(serde_json::from_str(json)?)
}

fn created_at(s: &Status) -> Result<i64, ParseError> {
    parse_rfc3339_us(&s.created_at).ok_or_else(|| ParseError::Invalid {
        field: "created_at",
        reason: format!(
            "not an RFC 3339 time: {:?}",
            s.created_at.chars().take(40).collect::<String>()
        ),
    })
}

fn nonneg(v: Option<i64>) -> u64 {
    v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// Parses a Mastodon `Status` entity. A status is an [`Item::Post`] (text = the content warning,
/// a blank line, then the HTML content reduced to text; `id` = the status `uri`; `native_id` =
/// the instance-local `id`); a boost (`reblog` set) is an [`Engagement::Repost`] of the boosted
/// status by the booster, at the boost's `created_at`. Counters: see [`parse_mastodon_counts`].
pub fn parse_mastodon_status(json: &str) -> Result<Item, ParseError> {
    let s = parse_status(json)?;
    status_item(s)
}

fn status_item(s: Status) -> Result<Item, ParseError> {
    let at = created_at(&s)?;
    if let Some(original) = s.reblog {
        return Ok(Item::Engagement(Engagement::Repost {
            id: s.uri,
            subject: original.uri,
            at_us: at,
            actor: s.account.acct,
            via: None,
        }));
    }
    if s.uri.is_empty() {
        return Err(ParseError::Invalid {
            field: "uri",
            reason: "empty".into(),
        });
    }
    let body = html_to_text(&s.content);
    let text = if s.spoiler_text.trim().is_empty() {
        body
    } else {
        format!("{}\n\n{body}", s.spoiler_text.trim())
    };
    Ok(Item::Post(Post {
        source: Source::Mastodon,
        id: s.uri,
        native_id: Some(s.id),
        author_handle: s.account.acct,
        author_followers: s
            .account
            .followers_count
            .and_then(|v| u64::try_from(v).ok()),
        text,
        lang: s.language.filter(|l| !l.is_empty()),
        created_at_us: at,
        url: s.url,
        reply_to: s.in_reply_to_id,
        quote_of: s.quote.and_then(|q| q.quoted_status).and_then(|q| q.uri),
        repost_of: None,
    }))
}

/// The counters of a polled status as [`Engagement::Counts`] at `observed_at_us` (the caller's
/// clock: this crate has none). For a boost, the boosted status's counters.
pub fn parse_mastodon_counts(json: &str, observed_at_us: i64) -> Result<Engagement, ParseError> {
    let s = parse_status(json)?;
    let s = match s.reblog {
        Some(original) => *original,
        None => s,
    };
    Ok(Engagement::Counts {
        subject: s.uri,
        likes: nonneg(s.favourites_count),
        reposts: nonneg(s.reblogs_count),
        replies: nonneg(s.replies_count),
        at_us: observed_at_us,
    })
}

/// One streaming event (SSE `event:` and `data:`, or a WebSocket message's `event`/`payload`):
/// `update` and `status.update` carry a Status ([`parse_mastodon_status`]); `delete` carries the
/// instance-local id of a deleted status ([`Item::Delete`]); the others (notification,
/// conversation, announcement*, filters_changed, ...) are [`Item::Ignored`].
pub fn parse_mastodon_stream_event(event: &str, data: &str) -> Result<Item, ParseError> {
    check_size(data.len(), MAX_FRAME_BYTES)?;
    match event {
        "update" | "status.update" => parse_mastodon_status(data),
        "delete" => {
            let id = data.trim();
            if id.is_empty() || id.len() > 256 || id.chars().any(char::is_whitespace) {
                return Err(ParseError::Invalid {
                    field: "delete",
                    reason: "expected a status id".into(),
                });
            }
            Ok(Item::Delete { id: id.to_string() })
        }
        "notification" => Ok(Item::Ignored("notification")),
        "conversation" => Ok(Item::Ignored("conversation")),
        "announcement" | "announcement.reaction" | "announcement.delete" => {
            Ok(Item::Ignored("announcement"))
        }
        "filters_changed" => Ok(Item::Ignored("filters_changed")),
        "encrypted_message" => Ok(Item::Ignored("encrypted_message")),
        "notifications_merged" => Ok(Item::Ignored("notifications_merged")),
        _ => Ok(Item::Ignored("unknown streaming event")),
    }
}

#[derive(Deserialize)]
struct WsMessage {
    event: String,
    payload: Option<serde_json::Value>,
}

/// A message of Mastodon's WebSocket streaming API: `{"stream": [...], "event": "update",
/// "payload": "<the Status, JSON-encoded as a string>"}`.
pub fn parse_mastodon_ws_message(text: &str) -> Result<Item, ParseError> {
    check_size(text.len(), MAX_FRAME_BYTES)?;
    let msg: WsMessage = serde_json::from_str(text)?;
    let payload = match msg.payload {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    parse_mastodon_stream_event(&msg.event, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"id":"1","uri":"https://ex.social/users/a/statuses/1","created_at":"2024-01-01T00:00:00Z","content":"<p>hi</p>","spoiler_text":"CW fire","account":{"acct":"a","followers_count":-1},"reblogs_count":3}"#;

    #[test]
    fn a_content_warning_is_kept_and_odd_counts_are_not_trusted() {
        let Item::Post(p) = parse_mastodon_status(MINIMAL).unwrap() else {
            panic!()
        };
        assert_eq!(p.text, "CW fire\n\nhi");
        assert_eq!(
            p.author_followers, None,
            "negative follower counts are not counts"
        );
        let Engagement::Counts { reposts, likes, .. } = parse_mastodon_counts(MINIMAL, 7).unwrap()
        else {
            panic!()
        };
        assert_eq!((reposts, likes), (3, 0));
    }

    #[test]
    fn a_status_without_a_valid_time_or_uri_is_an_error() {
        let bad_time = MINIMAL.replace("2024-01-01T00:00:00Z", "yesterday");
        assert!(matches!(
            parse_mastodon_status(&bad_time),
            Err(ParseError::Invalid {
                field: "created_at",
                ..
            })
        ));
        let no_account = r#"{"id":"1","uri":"u","created_at":"2024-01-01T00:00:00Z"}"#;
        assert!(matches!(
            parse_mastodon_status(no_account),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn stream_deletes_must_be_a_single_id() {
        assert_eq!(
            parse_mastodon_stream_event("delete", " 42\n").unwrap(),
            Item::Delete { id: "42".into() }
        );
        assert!(parse_mastodon_stream_event("delete", "").is_err());
        assert!(parse_mastodon_stream_event("delete", "4 2").is_err());
        assert_eq!(
            parse_mastodon_stream_event("whatever", "{}").unwrap(),
            Item::Ignored("unknown streaming event")
        );
    }
}
