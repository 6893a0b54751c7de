//! Leadership for work that must run on one node only (issue 8: the social connectors).
//!
//! [`crate::Store::try_lead`] returns a [`Leadership`] when this node leads. SQLite serves one
//! node, so it always leads. PostgreSQL takes a session advisory lock
//! (`pg_try_advisory_lock`) on a dedicated connection held for as long as the node leads;
//! when the process dies (even SIGKILL) its socket closes and the server drops the lock, so
//! another node's next attempt succeeds.

use async_trait::async_trait;
use std::time::Duration;

/// What keeps a leadership alive; `check` answers whether it still holds.
#[async_trait]
pub trait LeaderGuard: Send {
    async fn check(&mut self) -> bool;
}

/// Held while this node leads; dropping it gives the leadership up.
pub struct Leadership {
    guard: Option<Box<dyn LeaderGuard>>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("exclusive", &self.guard.is_some())
            .finish()
    }
}

impl Leadership {
    /// A leadership nobody else can contest (one node).
    pub fn always() -> Leadership {
        Leadership { guard: None }
    }

    pub fn held_by(guard: Box<dyn LeaderGuard>) -> Leadership {
        Leadership { guard: Some(guard) }
    }

    /// Resolves when the leadership is lost (its connection failed); never for
    /// [`Leadership::always`].
    pub async fn lost(&mut self) {
        let Some(guard) = self.guard.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if !guard.check().await {
                return;
            }
        }
    }
}
