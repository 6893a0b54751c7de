//! csvfast
