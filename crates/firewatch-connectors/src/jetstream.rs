//! Bluesky Jetstream v1 frames (`wss://jetstream*.bsky.network/subscribe`): one JSON object per
//! WebSocket text frame, `{did, time_us, kind: commit|identity|account, ...}`.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{
    Engagement, Item, MAX_FRAME_BYTES, ParseError, Post, Source, check_size, parse_rfc3339_us,
};

#[derive(Deserialize)]
struct Frame<'a> {
    did: String,
    time_us: i64,
    kind: &'a str,
    #[serde(borrow)]
    commit: Option<Commit<'a>>,
    identity: Option<Identity>,
}

#[derive(Deserialize)]
struct Commit<'a> {
    operation: &'a str,
    collection: &'a str,
    rkey: String,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Identity {
    handle: Option<String>,
}

#[derive(Deserialize)]
struct PostRecord {
    text: String,
    #[serde(rename = "createdAt")]
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
    reply: Option<ReplyRef>,
    embed: Option<Embed>,
}

#[derive(Deserialize)]
struct ReplyRef {
    parent: StrongRef,
}

#[derive(Deserialize)]
struct StrongRef {
    uri: String,
}

/// `app.bsky.embed.record` has `record: {uri, cid}`; `app.bsky.embed.recordWithMedia` has
/// `record: {record: {uri, cid}}`; other embeds (images, external, video) have no quote.
#[derive(Deserialize)]
struct Embed {
    #[serde(rename = "$type")]
    kind: Option<String>,
    record: Option<EmbedRecord>,
}

#[derive(Deserialize)]
struct EmbedRecord {
    uri: Option<String>,
    record: Option<StrongRef>,
}

#[derive(Deserialize)]
struct SubjectRecord {
    subject: StrongRef,
    via: Option<StrongRef>,
}

const POST: &str = "app.bsky.feed.post";
const LIKE: &str = "app.bsky.feed.like";
const REPOST: &str = "app.bsky.feed.repost";

/// Parses one Jetstream v1 frame. Returns the item and the frame's `time_us`, which is the
/// cursor to persist once the item is handled (resuming with `?cursor=time_us` replays from
/// there, so consumers dedupe by id).
///
/// Commits: `create`/`update` of `app.bsky.feed.post` -> [`Item::Post`]; `create` of
/// `app.bsky.feed.like` / `app.bsky.feed.repost` -> [`Engagement::Like`] /
/// [`Engagement::Repost`] (timed by `time_us`, the relay's clock, which is monotone and cannot
/// be forged by the client); `delete` of any of the three -> [`Item::Delete`] with the record's
/// at:// URI. `identity` -> [`Item::Identity`]. Everything else (follows, blocks, profiles,
/// other lexicons, `account`) -> [`Item::Ignored`].
pub fn parse_jetstream_frame(line: &str) -> Result<(Item, i64), ParseError> {
    check_size(line.len(), MAX_FRAME_BYTES)?;
    let frame: Frame<'_> = serde_json::from_str(line)?;
    let item = frame_item(&frame)?;
    Ok((item, frame.time_us))
}

fn frame_item(frame: &Frame<'_>) -> Result<Item, ParseError> {
    match frame.kind {
        "commit" => {
            let commit = frame.commit.as_ref().ok_or(ParseError::Missing("commit"))?;
            commit_item(&frame.did, frame.time_us, commit)
        }
        "identity" => Ok(Item::Identity {
            did: frame.did.clone(),
            handle: frame.identity.as_ref().and_then(|i| i.handle.clone()),
            at_us: frame.time_us,
        }),
        "account" => Ok(Item::Ignored("account status")),
        _ => Ok(Item::Ignored("unknown frame kind")),
    }
}

fn commit_item(did: &str, time_us: i64, commit: &Commit<'_>) -> Result<Item, ParseError> {
    let relevant = matches!(commit.collection, POST | LIKE | REPOST);
    if !relevant {
        return Ok(Item::Ignored("other collection"));
    }
    if commit.rkey.is_empty() || commit.rkey.len() > 512 || commit.rkey.contains('/') {
        return Err(ParseError::Invalid {
            field: "commit.rkey",
            reason: "empty, too long or contains '/'".into(),
        });
    }
    let uri = format!("at://{did}/{}/{}", commit.collection, commit.rkey);
    match commit.operation {
        "delete" => Ok(Item::Delete { id: uri }),
        "create" | "update" => {
            let record = commit.record.ok_or(ParseError::Missing("commit.record"))?;
            match commit.collection {
                POST => post_item(did, time_us, uri, record.get(), &commit.rkey),
                LIKE if commit.operation == "create" => {
                    let r: SubjectRecord = serde_json::from_str(record.get())?;
                    Ok(Item::Engagement(Engagement::Like {
                        id: uri,
                        subject: r.subject.uri,
                        at_us: time_us,
                        actor: did.to_string(),
                    }))
                }
                REPOST if commit.operation == "create" => {
                    let r: SubjectRecord = serde_json::from_str(record.get())?;
                    Ok(Item::Engagement(Engagement::Repost {
                        id: uri,
                        subject: r.subject.uri,
                        at_us: time_us,
                        actor: did.to_string(),
                        via: r.via.map(|v| v.uri),
                    }))
                }
                _ => Ok(Item::Ignored("like or repost update")),
            }
        }
        _ => Ok(Item::Ignored("unknown commit operation")),
    }
}

fn post_item(
    did: &str,
    time_us: i64,
    uri: String,
    record: &str,
    rkey: &str,
) -> Result<Item, ParseError> {
    let r: PostRecord = serde_json::from_str(record)?;
    let created_at_us = r
        .created_at
        .as_deref()
        .and_then(parse_rfc3339_us)
        .unwrap_or(time_us);
    let quote_of = r.embed.and_then(|e| {
        let rec = e.record?;
        match e.kind.as_deref() {
            Some("app.bsky.embed.record") => rec.uri,
            Some("app.bsky.embed.recordWithMedia") => rec.record.map(|r| r.uri),
            _ => None,
        }
    });
    Ok(Item::Post(Post {
        source: Source::Bluesky,
        url: Some(format!("https://bsky.app/profile/{did}/post/{rkey}")),
        id: uri,
        native_id: None,
        author_handle: did.to_string(),
        author_followers: None,
        text: r.text,
        lang: r.langs.into_iter().next(),
        created_at_us,
        reply_to: r.reply.map(|p| p.parent.uri),
        quote_of,
        repost_of: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_post_names_the_quoted_record() {
        let frame = r#"{"did":"did:plc:a","time_us":5,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"k1","record":{"$type":"app.bsky.feed.post","createdAt":"bad date","text":"look","embed":{"$type":"app.bsky.embed.recordWithMedia","record":{"record":{"uri":"at://did:plc:b/app.bsky.feed.post/q","cid":"c"}},"media":{}}},"cid":"x"}}"#;
        let (item, cursor) = parse_jetstream_frame(frame).unwrap();
        assert_eq!(cursor, 5);
        let Item::Post(post) = item else {
            panic!("{item:?}")
        };
        assert_eq!(
            post.quote_of.as_deref(),
            Some("at://did:plc:b/app.bsky.feed.post/q")
        );
        assert_eq!(
            post.created_at_us, 5,
            "an invalid createdAt falls back to the relay time"
        );
    }

    #[test]
    fn frames_without_required_parts_are_errors() {
        assert_eq!(
            parse_jetstream_frame(r#"{"did":"d","time_us":1,"kind":"commit"}"#).unwrap_err(),
            ParseError::Missing("commit")
        );
        let no_record = r#"{"did":"d","time_us":1,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.like","rkey":"k"}}"#;
        assert_eq!(
            parse_jetstream_frame(no_record).unwrap_err(),
            ParseError::Missing("commit.record")
        );
        let bad_rkey = r#"{"did":"d","time_us":1,"kind":"commit","commit":{"operation":"delete","collection":"app.bsky.feed.post","rkey":"a/b"}}"#;
        assert!(matches!(
            parse_jetstream_frame(bad_rkey),
            Err(ParseError::Invalid { .. })
        ));
        assert!(matches!(
            parse_jetstream_frame(r#"{"did":"d","kind":"commit"}"#),
            Err(ParseError::Json(_))
        ));
    }
}
