//! Parsing throughput on real payloads. Run: `cargo bench -p firewatch-connectors --bench parse`.

use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};
use firewatch_connectors::{
    SseDecoder, parse_jetstream_frame, parse_mastodon_stream_event, text_fingerprint,
};

const CORPUS: &str = include_str!("../tests/fixtures/jetstream/jetstream_v1_corpus_152.jsonl");
const GOLDEN: &str = include_str!("../tests/fixtures/jetstream/jetstream_v1_golden_10.jsonl");
const TALKS: &str =
    include_str!("../tests/fixtures/jetstream/jetstream_v1_frames_from_talks_24.jsonl");
const SSE: &str = include_str!("../tests/fixtures/mastodon/streaming_sse_events.txt");

fn main() {
    divan::main();
}

fn frames() -> Vec<&'static str> {
    CORPUS
        .lines()
        .chain(GOLDEN.lines())
        .chain(TALKS.lines())
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// All 186 real frames (likes, posts, reposts, follows, deletes, identity...), one pass per iteration.
#[divan::bench]
fn jetstream_frames(bencher: Bencher) {
    let frames = frames();
    let bytes: usize = frames.iter().map(|f| f.len()).sum();
    bencher
        .counter(ItemsCount::new(frames.len()))
        .counter(BytesCount::new(bytes))
        .bench(|| {
            let mut cursor = 0i64;
            for f in &frames {
                let (item, c) = parse_jetstream_frame(black_box(f)).unwrap();
                black_box(&item);
                cursor = cursor.max(c);
            }
            cursor
        });
}

/// Posts only (the expensive kind: text, langs, reply refs), plus their fingerprint.
#[divan::bench]
fn jetstream_posts_with_fingerprint(bencher: Bencher) {
    let posts: Vec<&str> = frames()
        .into_iter()
        .filter(|f| f.contains("\"app.bsky.feed.post\"") && f.contains("\"create\""))
        .collect();
    bencher.counter(ItemsCount::new(posts.len())).bench(|| {
        let mut acc = 0u64;
        for f in &posts {
            if let (firewatch_connectors::Item::Post(p), _) =
                parse_jetstream_frame(black_box(f)).unwrap()
            {
                acc ^= text_fingerprint(&p.text);
            }
        }
        acc
    });
}

/// The 18-event Mastodon SSE capture: decode + parse.
#[divan::bench]
fn mastodon_sse_capture(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(18usize))
        .counter(BytesCount::new(SSE.len()))
        .bench(|| {
            let mut d = SseDecoder::new();
            d.feed(black_box(SSE.as_bytes())).unwrap();
            let mut n = 0;
            while let Some(ev) = d.next_event() {
                black_box(parse_mastodon_stream_event(&ev.event, &ev.data).unwrap());
                n += 1;
            }
            n
        });
}
