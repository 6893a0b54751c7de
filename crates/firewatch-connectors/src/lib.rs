//! Social and news connectors: Jetstream, Mastodon, feeds and JSONL posts, parsed into one post shape.
