//! The demo world generator. Pure.
