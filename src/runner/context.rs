//! [`RunContext`]: what every trial of one run shares: the target, the sessions (opened once),
//! the run id and tag, the seed, and the options.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::error::RunError;
use super::interrupt::Interrupt;
use crate::client::{Auth, Endpoint, TheHive};

/// Where the scenarios run.
#[derive(Debug, Clone)]
pub struct Target {
    /// TheHive's base URL and TLS settings.
    pub endpoint: Endpoint,
    /// The organisation sent as `X-Organisation`; `None` uses each user's default org.
    pub org: Option<String>,
    /// The user session's credentials (observables and jobs).
    pub user: Auth,
    /// The admin session's credentials (organisation configuration), if any.
    pub admin: Option<Auth>,
    /// A Cortex server name that overrides the scenarios' own.
    pub cortex: Option<String>,
    /// How the target is named in output, e.g. `built-in emulator at http://127.0.0.1:4301`.
    pub label: String,
    /// Whether this is hivecheck's own emulator (snapshots are compared there by default).
    pub builtin: bool,
}

/// When report snapshots are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SnapshotMode {
    /// Against the built-in emulator, whose answers are deterministic.
    #[default]
    Auto,
    /// Against any target.
    Always,
    /// Never.
    Never,
}

/// Options of a run that are not about the target.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The seed given on the command line; it overrides the scenarios' own.
    pub seed_override: Option<u64>,
    /// The run's seed, for scenarios that pin none.
    pub run_seed: u64,
    /// When snapshots are compared.
    pub snapshots: SnapshotMode,
    /// Where the run writes its files (saved configuration, reports).
    pub out_dir: PathBuf,
    /// Where notification templates are looked up by name.
    pub fixtures_dir: PathBuf,
    /// Keep the cases the run created instead of deleting them at the end.
    pub keep: bool,
    /// Replace the organisation's notification rules in every autorun trial (`--replace`),
    /// whatever the scenarios' `mode`.
    pub replace: bool,
}

/// The user and admin sessions of a run.
#[derive(Debug, Clone)]
pub struct Sessions {
    /// Creates observables and jobs.
    pub user: TheHive,
    /// Configures the organisation.
    pub admin: Option<TheHive>,
}

/// An autorun trial that left the organisation's configuration changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRestore {
    /// The trial.
    pub trial: String,
    /// A shell command that puts back what it saved.
    pub command: String,
}

/// State shared by the trials of one run.
#[derive(Debug)]
pub struct RunContext {
    /// The target.
    pub target: Target,
    /// The options.
    pub options: RunOptions,
    /// The run id, e.g. `20261203T193000-4f2a`; it names cases and tags everything created.
    pub run_id: String,
    /// Raised by SIGINT/SIGTERM; trials stop and restore what they changed.
    pub interrupt: Interrupt,
    /// Autorun trials hold it exclusively from saving to restoring the organisation's
    /// configuration; other trials hold it shared. So two rules never interleave, and our rule
    /// never fires on another trial's observables (it matches every new observable our user
    /// creates).
    pub org_lock: tokio::sync::RwLock<()>,
    /// The first autorun trial whose restore failed, and the command that restores what it
    /// saved. Later autorun trials refuse to start: they would save the changed configuration
    /// as if it were the organisation's own.
    failed_restore: std::sync::Mutex<Option<FailedRestore>>,
    user: OnceCell<Result<TheHive, RunError>>,
    admin: OnceCell<Result<Option<TheHive>, RunError>>,
}

impl RunContext {
    /// A context for one run.
    pub fn new(target: Target, options: RunOptions) -> Arc<Self> {
        Arc::new(RunContext {
            target,
            options,
            run_id: new_run_id(),
            interrupt: Interrupt::default(),
            org_lock: tokio::sync::RwLock::new(()),
            failed_restore: std::sync::Mutex::new(None),
            user: OnceCell::new(),
            admin: OnceCell::new(),
        })
    }

    /// The tag put on everything the run creates.
    pub fn run_tag(&self) -> String {
        format!("hivecheck:run={}", self.run_id)
    }

    /// The seed a scenario uses: the command line's, else its own, else the run's.
    pub fn seed_for(&self, pinned: Option<u64>) -> u64 {
        self.options
            .seed_override
            .or(pinned)
            .unwrap_or(self.options.run_seed)
    }

    /// The run's output folder, `<out>/<run id>`, created readable only by its owner: it holds
    /// the organisation's saved configuration and the report.
    pub fn run_dir(&self) -> std::io::Result<PathBuf> {
        let dir = self.options.out_dir.join(&self.run_id);
        std::fs::create_dir_all(&self.options.out_dir)?;
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&dir) {
            Ok(()) => Ok(dir),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {
                #[cfg(unix)]
                std::fs::set_permissions(
                    &dir,
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )?;
                Ok(dir)
            }
            Err(error) => Err(error),
        }
    }

    /// Remembers that `trial` could not put the configuration back; `command` restores it.
    pub fn record_failed_restore(&self, trial: &str, command: &str) {
        let mut slot = self
            .failed_restore
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| FailedRestore {
            trial: trial.to_owned(),
            command: command.to_owned(),
        });
    }

    /// The first failed restore of the run, if any.
    pub fn failed_restore(&self) -> Option<FailedRestore> {
        self.failed_restore
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The user session, opened on first use and shared by every trial.
    pub async fn user(&self) -> Result<TheHive, RunError> {
        self.user
            .get_or_init(|| async { self.open("user", &self.target.user).await })
            .await
            .clone()
    }

    /// The admin session, or `None` when no admin credentials were given.
    pub async fn admin(&self) -> Result<Option<TheHive>, RunError> {
        self.admin
            .get_or_init(|| async {
                match &self.target.admin {
                    Some(auth) => self.open("admin", auth).await.map(Some),
                    None => Ok(None),
                }
            })
            .await
            .clone()
    }

    async fn open(&self, role: &str, auth: &Auth) -> Result<TheHive, RunError> {
        TheHive::connect(
            &self.target.endpoint,
            auth,
            self.target.org.as_deref(),
            role,
        )
        .await
        .map_err(|source| RunError::Session {
            role: role.to_owned(),
            base: self.target.endpoint.base().to_owned(),
            source: Arc::new(source),
        })
    }
}

fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let stamp = compact.trim_end_matches('Z');
    format!("{stamp}-{:04x}", rand::random::<u16>())
}
