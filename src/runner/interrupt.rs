//! [`Interrupt`]: SIGINT and SIGTERM turned into a value trials can wait on, so that a run
//! stops polling and puts back the configuration it changed before the process ends. A second
//! signal ends the process at once.

use std::sync::Arc;

use tokio::sync::watch;

/// A run-wide flag raised by the first SIGINT or SIGTERM.
#[derive(Debug, Clone)]
pub struct Interrupt {
    sender: Arc<watch::Sender<Option<String>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt {
            sender: Arc::new(watch::channel(None).0),
        }
    }
}

impl Interrupt {
    /// Starts listening for signals on the current tokio runtime.
    pub fn listen(&self) {
        let sender = self.sender.clone();
        tokio::spawn(async move {
            let first = next_signal().await;
            tracing::warn!("{first} received: stopping, restoring what the run changed");
            sender.send_replace(Some(first.to_owned()));
            let second = next_signal().await;
            eprintln!(
                "error: {second} received again: exiting now; any configuration saved by the run \
                 is in its output folder with a command to restore it"
            );
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        });
    }

    /// Raises the flag by hand (tests, or a caller that wants the run to stop).
    pub fn raise(&self, why: &str) {
        self.sender.send_replace(Some(why.to_owned()));
    }

    /// The signal received, if any.
    pub fn raised(&self) -> Option<String> {
        self.sender.borrow().clone()
    }

    /// Resolves once the flag is raised, with the signal's name.
    pub async fn wait(&self) -> String {
        let mut receiver = self.sender.subscribe();
        loop {
            if let Some(why) = receiver.borrow_and_update().clone() {
                return why;
            }
            if receiver.changed().await.is_err() {
                // The sender lives in this struct, so this only happens at shutdown.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(unix)]
async fn next_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

#[cfg(not(unix))]
async fn next_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "Ctrl-C"
}
