//! Social and news connectors: Jetstream, Mastodon, feeds and JSONL posts, parsed into one post
//! shape.
//!
//! The parsers are pure (no sockets, files or clocks): every function takes bytes or text and
//! returns [`Item`]s. The transports ([`transport`]: WebSocket, SSE over HTTP, conditional GET)
//! sit on top behind one [`transport::Connector`] trait and only feed these functions.
//!
//! | input | function |
//! | --- | --- |
//! | Bluesky Jetstream v1 frame | [`parse_jetstream_frame`] |
//! | Mastodon `Status` (REST, or a stream's payload) | [`parse_mastodon_status`], [`parse_mastodon_counts`] |
//! | Mastodon streaming over SSE | [`SseDecoder`] then [`parse_mastodon_stream_event`] |
//! | Mastodon streaming over WebSocket | [`parse_mastodon_ws_message`] |
//! | RSS 0.9x / 1.0 / 2.0, Atom, JSON Feed | [`parse_feed`] |
//! | `firewatch import posts` JSONL | [`parse_posts_jsonl_line`] |
//! | a synthetic Jetstream stream for load tests | [`FrameReplay`] |
//!
//! Every input has a size cap ([`MAX_FRAME_BYTES`], [`MAX_FEED_BYTES`]) checked before parsing,
//! and every failure is a [`ParseError`]; nothing panics on hostile input.

mod feed;
mod fingerprint;
mod html;
mod jetstream;
mod jsonl;
mod mastodon;
mod replay;
mod sse;
mod time;
pub mod transport;

pub use feed::parse_feed;
pub use fingerprint::{normalise_for_fingerprint, text_fingerprint};
pub use html::html_to_text;
pub use jetstream::parse_jetstream_frame;
pub use jsonl::parse_posts_jsonl_line;
pub use mastodon::{
    parse_mastodon_counts, parse_mastodon_status, parse_mastodon_stream_event,
    parse_mastodon_ws_message,
};
pub use replay::FrameReplay;
pub use sse::{SseDecoder, SseEvent};
pub use time::parse_rfc3339_us;

/// Largest accepted JSON frame, line, status or SSE event: 1 MiB.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Largest accepted feed document: 16 MiB.
pub const MAX_FEED_BYTES: usize = 16 << 20;

/// Where a post came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Bluesky, through Jetstream.
    Bluesky,
    /// A Mastodon instance (REST or streaming).
    Mastodon,
    /// An RSS, Atom or JSON Feed.
    Feed,
    /// A JSONL import in firewatch's own post shape.
    Import,
}

impl Source {
    /// Lower-case name (`bluesky`, `mastodon`, `feed`, `import`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Bluesky => "bluesky",
            Source::Mastodon => "mastodon",
            Source::Feed => "feed",
            Source::Import => "import",
        }
    }
}

/// One public post or news item, whatever its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Where it came from.
    pub source: Source,
    /// Global, stable id: the `at://did/app.bsky.feed.post/rkey` URI (Bluesky), the status
    /// `uri` (Mastodon, the ActivityPub id, the same on every instance), or the feed item's id
    /// (its guid / Atom id; when a feed gives none, a hash of its link and title).
    pub id: String,
    /// The platform's own short id when it differs from `id` and other events refer to it:
    /// Mastodon's instance-local status id (used by streaming `delete` and `in_reply_to_id`).
    pub native_id: Option<String>,
    /// Who posted: the DID on Bluesky (Jetstream carries no handle; identity frames map DIDs to
    /// handles), `acct` on Mastodon (`user` or `user@domain`), the entry's (else the feed's)
    /// author name or the feed title for feeds.
    pub author_handle: String,
    /// Followers of the author when the source says (Mastodon); `None` otherwise.
    pub author_followers: Option<u64>,
    /// Plain text (HTML reduced to text for Mastodon and feeds; a feed item is its title, a blank
    /// line, then its summary or content).
    pub text: String,
    /// Declared language (BCP 47), if any.
    pub lang: Option<String>,
    /// Creation time in unix microseconds: the record's `createdAt` (Bluesky; the relay time
    /// when absent or invalid), `created_at` (Mastodon), published else updated (feeds;
    /// **0 when the feed gives no date**: the caller substitutes the fetch time).
    pub created_at_us: i64,
    /// Web address for humans, if known.
    pub url: Option<String>,
    /// Id of the post this replies to (at:// URI on Bluesky; Mastodon gives only the
    /// instance-local id of the parent, so it is that, comparable with `native_id`).
    pub reply_to: Option<String>,
    /// Id of the post it quotes (at:// URI of an embedded record; Mastodon 4.4+ `quote`'s
    /// status uri).
    pub quote_of: Option<String>,
    /// Id of the post it reposts (firewatch import shape only; Jetstream and Mastodon reposts
    /// are [`Engagement::Repost`]).
    pub repost_of: Option<String>,
}

impl Post {
    /// The engagement this post represents for another post: a reply, a quote, or a repost
    /// (in that order; usually at most one applies).
    pub fn engagements(&self) -> impl Iterator<Item = Engagement> + '_ {
        let reply = self.reply_to.as_ref().map(|subject| Engagement::Reply {
            subject: subject.clone(),
            post: self.id.clone(),
            at_us: self.created_at_us,
            actor: self.author_handle.clone(),
        });
        let quote = self.quote_of.as_ref().map(|subject| Engagement::Quote {
            subject: subject.clone(),
            post: self.id.clone(),
            at_us: self.created_at_us,
            actor: self.author_handle.clone(),
        });
        let repost = self.repost_of.as_ref().map(|subject| Engagement::Repost {
            id: self.id.clone(),
            subject: subject.clone(),
            at_us: self.created_at_us,
            actor: self.author_handle.clone(),
            via: None,
        });
        reply.into_iter().chain(quote).chain(repost)
    }

    /// [`text_fingerprint`] of the post's text.
    pub fn fingerprint(&self) -> u64 {
        text_fingerprint(&self.text)
    }
}

/// An interaction with a post (`subject` is the post's id as in [`Post::id`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Engagement {
    /// A like (Bluesky `app.bsky.feed.like`). `id` is the like record's own at:// URI, which a
    /// later delete names.
    Like {
        id: String,
        subject: String,
        at_us: i64,
        actor: String,
    },
    /// A repost / boost. `id` is the repost's own id (at:// URI of the repost record; the
    /// wrapper status uri on Mastodon). `via` is the repost through which the actor saw the post,
    /// when Bluesky says (useful to rebuild cascades).
    Repost {
        id: String,
        subject: String,
        at_us: i64,
        actor: String,
        via: Option<String>,
    },
    /// A reply `post` to `subject`.
    Reply {
        subject: String,
        post: String,
        at_us: i64,
        actor: String,
    },
    /// A quote `post` of `subject`.
    Quote {
        subject: String,
        post: String,
        at_us: i64,
        actor: String,
    },
    /// Counters polled at `at_us` (Mastodon REST).
    Counts {
        subject: String,
        likes: u64,
        reposts: u64,
        replies: u64,
        at_us: i64,
    },
}

/// What one input unit (frame, status, event, line) turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A post to triage.
    Post(Post),
    /// An interaction with a post.
    Engagement(Engagement),
    /// The record or status with this id was deleted (at:// URI for Bluesky posts, likes and
    /// reposts; the instance-local id for Mastodon, see [`Post::native_id`]).
    Delete { id: String },
    /// A Bluesky identity frame: the DID's current handle, when the frame carries it.
    Identity {
        did: String,
        handle: Option<String>,
        at_us: i64,
    },
    /// Understood but of no use to firewatch (follows, profiles, notifications...), with a
    /// short reason.
    Ignored(&'static str),
}

/// Why an input could not be parsed. Messages name the field or position at fault.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ParseError {
    /// The input is over its size cap; it was not parsed.
    #[error("input of {len} bytes is over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    /// Malformed JSON or JSON of the wrong shape (serde_json's message has line and column).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    Missing(&'static str),
    /// A field is present but unusable.
    #[error("invalid `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The feed could not be parsed (feed-rs's message).
    #[error("invalid feed: {0}")]
    Feed(String),
    /// The bytes are not UTF-8 where text is required.
    #[error("input is not valid UTF-8")]
    NotUtf8,
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        ParseError::Json(e.to_string())
    }
}

pub(crate) fn check_size(len: usize, max: usize) -> Result<(), ParseError> {
    if len > max {
        Err(ParseError::TooLarge { len, max })
    } else {
        Ok(())
    }
}
