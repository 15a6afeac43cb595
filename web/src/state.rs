//! Shared handler state.

use std::sync::Arc;

use crate::WebOptions;
use crate::console::{Console, ConsoleError};
use crate::error::WebError;

/// What every handler gets through `State<AppState>`.
#[derive(Clone)]
pub(crate) struct AppState {
    console: Arc<dyn Console>,
    pub(crate) opts: Arc<WebOptions>,
}

impl AppState {
    pub(crate) fn new(console: Arc<dyn Console>, opts: WebOptions) -> Self {
        AppState {
            console,
            opts: Arc::new(opts),
        }
    }

    /// Runs a (blocking) console call on the blocking pool, so SQLite, argon2 and kit
    /// verification never stall the async workers.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Console) -> Result<T, ConsoleError> + Send + 'static,
    {
        let console = Arc::clone(&self.console);
        tokio::task::spawn_blocking(move || f(console.as_ref()))
            .await
            .map_err(|e| WebError::internal(format_args!("console task failed: {e}")))?
            .map_err(WebError::from)
    }
}
