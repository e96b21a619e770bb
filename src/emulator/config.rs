//! Settings of an emulator instance: [`EmulatorConfig`] and its parts.
//!
//! The command-line form lives in `args`; this module only holds the values, their defaults
//! and a `Debug` that never shows a password or an API key.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::RngExt;
use rand::distr::{Alphanumeric, SampleString};

/// Which TheHive generation the emulator imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Profile {
    /// TheHive 4.1.24 with its v0 API and the Cortex connector.
    #[default]
    #[value(name = "thehive4")]
    TheHive4,
    /// TheHive 5.7 (closed source): the v1 API of its OpenAPI with TheHive 5 shapes, the
    /// legacy connector and status paths, and jobs accepted for unknown Cortex servers or
    /// analyzers (they fail afterwards).
    #[value(name = "thehive5")]
    TheHive5,
}

/// Which server an emulator process plays; the split roles let TheHive and Cortex run as two
/// processes (or containers) that talk over HTTP as the real ones do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// TheHive with an in-process Cortex (the historical behaviour, used by every scenario).
    #[default]
    Combined,
    /// TheHive only; it reaches the Cortex servers of [`EmulatorConfig::cortex_urls`] over HTTP
    /// with [`EmulatorConfig::cortex_key`], as TheHive 4's Cortex connector does.
    TheHive,
    /// Cortex only, with its own HTTP API, empty until bootstrapped through that API
    /// (maintenance migration, initial user, organisations, analyzers).
    Cortex,
}

/// The licence the TheHive 5 profile reports (`GET /api/v1/license/current`, and `license`
/// in `GET /api/v1/status`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LicenceState {
    /// No licence installed, and the 14-day Platinum trial of a fresh installation running.
    #[default]
    Trial,
    /// No licence installed, and the trial over (a real TheHive 5 is then read-only).
    ExpiredTrial,
    /// An installed licence of this plan (e.g. `Gold`), valid for a year from the start.
    Installed(String),
}

/// A uniformly distributed duration between `min` and `max` (inclusive), drawn from the seeded
/// generator of the emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Shortest duration.
    pub min: Duration,
    /// Longest duration.
    pub max: Duration,
}

impl Latency {
    /// A latency that is always `d`.
    pub fn fixed(d: Duration) -> Self {
        Self { min: d, max: d }
    }

    /// Draws one duration; a reversed range is read as its sorted form.
    pub(crate) fn sample(&self, rng: &mut impl RngExt) -> Duration {
        let (lo, hi) = if self.min <= self.max {
            (self.min, self.max)
        } else {
            (self.max, self.min)
        };
        let lo_ms = lo.as_millis() as u64;
        let hi_ms = hi.as_millis() as u64;
        Duration::from_millis(rng.random_range(lo_ms..=hi_ms))
    }
}

/// One emulated Cortex server as TheHive's `cortex.servers` configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CortexServerConfig {
    /// Server name used as `cortexId` (the TheHive 4 docker entrypoint names them `cortex0`, …).
    pub name: String,
    /// Enabled analyzer names, e.g. `AbuseIPDB_1_0`.
    pub analyzers: Vec<String>,
}

/// Everything an emulator instance needs; `Default` gives a ready-to-use local setup.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Play context path prefixed to every route (`""` or e.g. `/thehive`).
    pub context_path: String,
    /// TheHive generation to imitate.
    pub profile: Profile,
    /// Seed of the generator that draws job latencies (analyzer results never depend on it).
    pub seed: u64,
    /// Working organisation of the analyst.
    pub org: String,
    /// Login of the platform administrator (member of org `admin`).
    pub admin_login: String,
    /// Password of the platform administrator.
    pub admin_password: String,
    /// API key of the platform administrator, if it has one.
    pub admin_key: Option<String>,
    /// Login of the analyst (member of `org`).
    pub analyst_login: String,
    /// Password of the analyst.
    pub analyst_password: String,
    /// API key of the analyst.
    pub analyst_key: String,
    /// Cortex servers connected to TheHive.
    pub cortex_servers: Vec<CortexServerConfig>,
    /// Cortex time from job creation to a finished job.
    pub job_latency: Latency,
    /// Period of TheHive's job poller (`cortex.refreshDelay`, 5 s in real TheHive).
    pub refresh_delay: Duration,
    /// Cortex job cache lifetime (`cache.job`, 10 minutes in real Cortex).
    pub job_cache: Duration,
    /// Time between an observable creation and the job a RunAnalyzer notification starts.
    pub notification_delay: Duration,
    /// Reproduces TheHive 4.1.24's RunAnalyzer lookup bug (the notification never fires).
    pub emulate_runanalyzer_lookup_bug: bool,
    /// Which server this process plays; [`Role::Combined`] keeps every other field's meaning.
    pub role: Role,
    /// [`Role::TheHive`]: Cortex servers as `(name, base URL)`, the URL including any context
    /// path (e.g. `http://cortex:9001/cortex`). Ignored by the other roles, where
    /// `cortex_servers` describes the in-process servers.
    pub cortex_urls: Vec<(String, String)>,
    /// [`Role::TheHive`]: API key sent as `Authorization: Bearer` to every Cortex server
    /// (TheHive's `auth { type = "bearer", key = ... }`).
    pub cortex_key: Option<String>,
    /// [`Role::Cortex`]: accept HTTP Basic authentication (`auth.method.basic`, off by default
    /// in Cortex; StrangeBee's init script switches it on while bootstrapping).
    pub cortex_basic_auth: bool,
    /// [`Role::TheHive`]: how long a Cortex connector status stays valid before `/api/status`
    /// checks the servers again (`cortex.statusCheckInterval`, 1 minute in TheHive).
    pub status_check_interval: Duration,
    /// [`Profile::TheHive5`]: the licence reported.
    pub licence: LicenceState,
}

/// A random secret of `len` alphanumeric characters.
pub(crate) fn random_secret(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            context_path: String::new(),
            profile: Profile::TheHive4,
            seed: 0,
            org: "demo".to_owned(),
            admin_login: "admin@thehive.local".to_owned(),
            admin_password: "secret".to_owned(),
            admin_key: None,
            analyst_login: "analyst@thehive.local".to_owned(),
            analyst_password: random_secret(16),
            analyst_key: random_secret(32),
            cortex_servers: vec![CortexServerConfig {
                name: "cortex0".to_owned(),
                analyzers: vec!["AbuseIPDB_1_0".to_owned(), "AbuseIPDB_2_0".to_owned()],
            }],
            job_latency: Latency {
                min: Duration::from_millis(200),
                max: Duration::from_millis(1200),
            },
            refresh_delay: Duration::from_millis(250),
            job_cache: Duration::from_secs(600),
            notification_delay: Duration::from_millis(300),
            emulate_runanalyzer_lookup_bug: false,
            role: Role::Combined,
            cortex_urls: Vec::new(),
            cortex_key: None,
            cortex_basic_auth: false,
            status_check_interval: Duration::from_secs(60),
            licence: LicenceState::Trial,
        }
    }
}

const REDACTED: &str = "<redacted>";

impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("bind", &self.bind)
            .field("context_path", &self.context_path)
            .field("profile", &self.profile)
            .field("seed", &self.seed)
            .field("org", &self.org)
            .field("admin_login", &self.admin_login)
            .field("admin_password", &REDACTED)
            .field("admin_key", &self.admin_key.as_ref().map(|_| REDACTED))
            .field("analyst_login", &self.analyst_login)
            .field("analyst_password", &REDACTED)
            .field("analyst_key", &REDACTED)
            .field("cortex_servers", &self.cortex_servers)
            .field("job_latency", &self.job_latency)
            .field("refresh_delay", &self.refresh_delay)
            .field("job_cache", &self.job_cache)
            .field("notification_delay", &self.notification_delay)
            .field(
                "emulate_runanalyzer_lookup_bug",
                &self.emulate_runanalyzer_lookup_bug,
            )
            .field("role", &self.role)
            .field("cortex_urls", &self.cortex_urls)
            .field("cortex_key", &self.cortex_key.as_ref().map(|_| REDACTED))
            .field("cortex_basic_auth", &self.cortex_basic_auth)
            .field("status_check_interval", &self.status_check_interval)
            .field("licence", &self.licence)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_passwords_and_keys() {
        let config = EmulatorConfig {
            admin_key: Some("admin-key-sentinel".to_owned()),
            analyst_key: "analyst-key-sentinel".to_owned(),
            analyst_password: "analyst-password-sentinel".to_owned(),
            cortex_key: Some("cortex-key-sentinel".to_owned()),
            ..EmulatorConfig::default()
        };

        let text = format!("{config:?}");

        assert!(!text.contains("sentinel"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
