//! HTTP API (axum): JSON DTOs, problem+json errors, auth.
