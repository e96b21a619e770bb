//! [`Interrupt`]: SIGINT and SIGTERM turned into a value trials can wait on, so that a run
//! stops polling and puts back the configuration it changed before the process ends.
//!
//! It also keeps the configurations written but not yet put back ([`PendingRestore`]): a
//! second signal ends the process at once, and then prints each saved file with the command
//! that restores it and exits with [`crate::exit::TARGET`] ("a restore failed"), or with
//! [`crate::exit::INTERRUPTED`] when nothing is pending.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// A configuration a trial changed and has not yet put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRestore {
    /// The trial that changed it.
    pub trial: String,
    /// The file holding the configuration as it was before the trial.
    pub saved: PathBuf,
    /// A shell command that puts it back.
    pub command: String,
}

/// A run-wide flag raised by the first SIGINT or SIGTERM, and the restores still pending.
#[derive(Debug, Clone)]
pub struct Interrupt {
    sender: Arc<watch::Sender<Option<String>>>,
    pending: Arc<Mutex<Vec<PendingRestore>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt {
            sender: Arc::new(watch::channel(None).0),
            pending: Arc::default(),
        }
    }
}

impl Interrupt {
    /// Starts listening for signals on the current tokio runtime.
    pub fn listen(&self) {
        let sender = self.sender.clone();
        let pending = self.clone();
        tokio::spawn(async move {
            let first = next_signal().await;
            tracing::warn!("{first} received: stopping, restoring what the run changed");
            sender.send_replace(Some(first.to_owned()));
            let second = next_signal().await;
            let (message, code) = second_signal(second, &pending.pending());
            eprintln!("{message}");
            std::process::exit(i32::from(code));
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

    /// Records a configuration about to be written, until [`Interrupt::release`].
    pub fn hold(&self, restore: PendingRestore) {
        self.lock().push(restore);
    }

    /// Forgets the pending restore of the configuration saved in `saved`: it is back, or was
    /// never changed.
    pub fn release(&self, saved: &Path) {
        self.lock().retain(|p| p.saved != saved);
    }

    /// The restores still pending.
    pub fn pending(&self) -> Vec<PendingRestore> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PendingRestore>> {
        // A panic while holding this lock leaves a plain list behind, still usable.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a second signal prints, and the exit code: 130 when nothing is left changed, else 4
/// with each saved file and its restore command.
fn second_signal(signal: &str, pending: &[PendingRestore]) -> (String, u8) {
    if pending.is_empty() {
        return (
            format!(
                "error: {signal} received again: exiting now; nothing the run changed is left to restore"
            ),
            crate::exit::INTERRUPTED,
        );
    }
    let mut text = format!(
        "error: {signal} received again: exiting now, before the organisation's notification \
         configuration was put back"
    );
    for restore in pending {
        text.push_str(&format!(
            "\n  trial `{}`: the configuration as found is in {}\n    restore it with: {}",
            restore.trial,
            restore.saved.display(),
            restore.command
        ));
    }
    text.push_str(
        "\n(the command needs THEHIVE_ADMIN_API_KEY, or THEHIVE_ADMIN_USER and \
         THEHIVE_ADMIN_PASSWORD, in its environment)",
    );
    (text, crate::exit::TARGET)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(trial: &str) -> PendingRestore {
        PendingRestore {
            trial: trial.to_owned(),
            saved: PathBuf::from(format!("/out/run/notification-demo-{trial}-saved.json")),
            command: format!("sh '/out/run/restore-notification-demo-{trial}.sh'"),
        }
    }

    #[test]
    fn a_second_signal_with_nothing_pending_exits_130() {
        let (text, code) = second_signal("SIGINT", &[]);

        assert_eq!(code, crate::exit::INTERRUPTED);
        assert!(text.contains("nothing the run changed is left"), "{text}");
    }

    #[test]
    fn a_second_signal_during_a_restore_names_each_file_and_command_and_exits_4() {
        let interrupt = Interrupt::default();
        interrupt.hold(pending("a"));
        interrupt.hold(pending("b"));
        interrupt.release(Path::new("/out/run/notification-demo-a-saved.json"));

        let (text, code) = second_signal("SIGTERM", &interrupt.pending());

        assert_eq!(code, crate::exit::TARGET);
        assert!(
            text.contains("/out/run/notification-demo-b-saved.json")
                && text.contains("restore it with: sh '/out/run/restore-notification-demo-b.sh'"),
            "{text}"
        );
        assert!(
            !text.contains("demo-a"),
            "a released restore is not listed: {text}"
        );
    }
}
