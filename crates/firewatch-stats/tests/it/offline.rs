//! The offline analyst commands.
