//! Command-line flags of `hivecheck emulate` ([`EmulatorArgs`]) and their conversion into an
//! [`EmulatorConfig`].

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::config::{CortexServerConfig, EmulatorConfig, Latency, LicenceState, Profile, Role};
use super::error::EmulatorError;

/// Flags of `hivecheck emulate`; unset flags keep the [`EmulatorConfig`] defaults, except
/// `--bind`, which defaults to TheHive's usual port 9000 for a server started by hand.
#[derive(Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub bind: SocketAddr,
    /// Play context path prefixed to every route, e.g. `/thehive`.
    #[arg(long, default_value = "")]
    pub context_path: String,
    /// TheHive generation to imitate: `thehive4` (4.1.24) or `thehive5` (5.7).
    #[arg(long, default_value = "thehive4")]
    pub profile: String,
    /// Seed of the job latency generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Working organisation of the analyst.
    #[arg(long, default_value = "demo")]
    pub org: String,
    /// Administrator login.
    #[arg(long, default_value = "admin@thehive.local")]
    pub admin_login: String,
    /// Administrator password.
    #[arg(
        long,
        env = "HIVECHECK_EMULATOR_ADMIN_PASSWORD",
        default_value = "secret",
        hide_env_values = true
    )]
    pub admin_password: String,
    /// Administrator API key (none if unset).
    #[arg(long, env = "HIVECHECK_EMULATOR_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Analyst login.
    #[arg(long, default_value = "analyst@thehive.local")]
    pub analyst_login: String,
    /// Analyst password (random if unset).
    #[arg(
        long,
        env = "HIVECHECK_EMULATOR_ANALYST_PASSWORD",
        hide_env_values = true
    )]
    pub analyst_password: Option<String>,
    /// Analyst API key (random 32 characters if unset).
    #[arg(long, env = "HIVECHECK_EMULATOR_ANALYST_KEY", hide_env_values = true)]
    pub analyst_key: Option<String>,
    /// A Cortex server as `NAME=ANALYZER,ANALYZER…`; repeat for several servers.
    #[arg(long = "cortex", value_name = "NAME=ANALYZERS")]
    pub cortex: Vec<String>,
    /// Shortest Cortex job duration.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub job_latency_min: Duration,
    /// Longest Cortex job duration.
    #[arg(long, default_value = "1200ms", value_parser = humantime::parse_duration)]
    pub job_latency_max: Duration,
    /// Period of TheHive's job poller (real TheHive: 5s).
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration)]
    pub refresh_delay: Duration,
    /// Cortex job cache lifetime.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub job_cache: Duration,
    /// Delay before a RunAnalyzer notification starts its job.
    #[arg(long, default_value = "300ms", value_parser = humantime::parse_duration)]
    pub notification_delay: Duration,
    /// Reproduce TheHive 4.1.24's RunAnalyzer lookup bug (notifications never run analyzers).
    #[arg(long)]
    pub emulate_runanalyzer_lookup_bug: bool,
    /// Which server to play: `combined` (TheHive with an in-process Cortex), `thehive` (TheHive
    /// reaching Cortex over HTTP) or `cortex` (the Cortex API alone).
    #[arg(long, default_value = "combined")]
    pub role: String,
    /// Role `thehive`: a Cortex server as `URL` or `NAME=URL`; repeat for several servers.
    /// Unnamed servers are called `cortex0`, `cortex1`, … as TheHive's Docker entrypoint names
    /// them. Optional with `--profile thehive5`, which also takes its servers from `PUT
    /// /api/v1/admin/config/cortex`.
    #[arg(long = "cortex-url", value_name = "[NAME=]URL")]
    pub cortex_url: Vec<String>,
    /// Role `thehive`: API key of the Cortex user TheHive acts as.
    #[arg(long, env = "HIVECHECK_EMULATOR_CORTEX_KEY", hide_env_values = true)]
    pub cortex_key: Option<String>,
    /// Role `cortex`: accept HTTP Basic authentication (off by default, as in Cortex).
    #[arg(long)]
    pub cortex_basic_auth: bool,
    /// Role `thehive`: how long a Cortex connector status is reused before a new check.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    pub status_check_interval: Duration,
    /// Profile `thehive5`: the licence reported: `trial` (no licence, the 14-day Platinum
    /// trial running), `expired-trial`, or the plan of an installed licence (e.g. `Gold`).
    #[arg(long, default_value = "trial", value_name = "trial|expired-trial|PLAN")]
    pub licence: String,
}

impl fmt::Debug for EmulatorArgs {
    /// Passwords and keys are redacted, as in the configuration's `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<unset>" };
        f.debug_struct("EmulatorArgs")
            .field("bind", &self.bind)
            .field("context_path", &self.context_path)
            .field("profile", &self.profile)
            .field("seed", &self.seed)
            .field("org", &self.org)
            .field("admin_login", &self.admin_login)
            .field("admin_password", &redacted(true))
            .field("admin_key", &redacted(self.admin_key.is_some()))
            .field("analyst_login", &self.analyst_login)
            .field(
                "analyst_password",
                &redacted(self.analyst_password.is_some()),
            )
            .field("analyst_key", &redacted(self.analyst_key.is_some()))
            .field("cortex", &self.cortex)
            .field("job_latency_min", &self.job_latency_min)
            .field("job_latency_max", &self.job_latency_max)
            .field("refresh_delay", &self.refresh_delay)
            .field("job_cache", &self.job_cache)
            .field("notification_delay", &self.notification_delay)
            .field(
                "emulate_runanalyzer_lookup_bug",
                &self.emulate_runanalyzer_lookup_bug,
            )
            .field("role", &self.role)
            .field("cortex_url", &self.cortex_url)
            .field("cortex_key", &redacted(self.cortex_key.is_some()))
            .field("cortex_basic_auth", &self.cortex_basic_auth)
            .field("status_check_interval", &self.status_check_interval)
            .field("licence", &self.licence)
            .finish()
    }
}

impl EmulatorArgs {
    /// Checks the flags and builds the configuration.
    pub fn into_config(self) -> Result<EmulatorConfig, EmulatorError> {
        let defaults = EmulatorConfig::default();
        let profile = match self.profile.to_ascii_lowercase().as_str() {
            "thehive4" | "th4" | "4" => Profile::TheHive4,
            "thehive5" | "th5" | "5" => Profile::TheHive5,
            other => {
                return Err(EmulatorError::InvalidOption {
                    option: "--profile",
                    reason: format!("unknown profile `{other}` (expected thehive4 or thehive5)"),
                });
            }
        };
        let role = match self.role.to_ascii_lowercase().as_str() {
            "combined" => Role::Combined,
            "thehive" => Role::TheHive,
            "cortex" => Role::Cortex,
            other => {
                return Err(EmulatorError::InvalidOption {
                    option: "--role",
                    reason: format!(
                        "unknown role `{other}` (expected combined, thehive or cortex)"
                    ),
                });
            }
        };
        let cortex_urls = self
            .cortex_url
            .iter()
            .enumerate()
            .map(|(i, spec)| parse_cortex_url(i, spec))
            .collect::<Result<Vec<_>, _>>()?;
        // TheHive 5 can be given its Cortex servers later, over its API; TheHive 4 only reads
        // them from its configuration.
        if role == Role::TheHive && cortex_urls.is_empty() && profile == Profile::TheHive4 {
            return Err(EmulatorError::InvalidOption {
                option: "--cortex-url",
                reason: "the thehive role of the thehive4 profile needs at least one Cortex \
                         server (thehive5 takes them from PUT /api/v1/admin/config/cortex)"
                    .to_owned(),
            });
        }
        let context_path = normalise_context_path(&self.context_path);
        let cortex_servers = if self.cortex.is_empty() {
            defaults.cortex_servers.clone()
        } else {
            self.cortex
                .iter()
                .map(|spec| parse_cortex(spec))
                .collect::<Result<Vec<_>, _>>()?
        };
        if self.job_latency_min > self.job_latency_max {
            return Err(EmulatorError::InvalidOption {
                option: "--job-latency-min",
                reason: "greater than --job-latency-max".to_owned(),
            });
        }
        if self.refresh_delay.is_zero() {
            return Err(EmulatorError::InvalidOption {
                option: "--refresh-delay",
                reason: "must be positive".to_owned(),
            });
        }

        let licence = match self.licence.trim() {
            "" => {
                return Err(EmulatorError::InvalidOption {
                    option: "--licence",
                    reason: "expected trial, expired-trial or a plan name".to_owned(),
                });
            }
            "trial" => LicenceState::Trial,
            "expired-trial" => LicenceState::ExpiredTrial,
            plan => LicenceState::Installed(plan.to_owned()),
        };

        Ok(EmulatorConfig {
            bind: self.bind,
            context_path,
            profile,
            seed: self.seed,
            org: self.org,
            admin_login: self.admin_login,
            admin_password: self.admin_password,
            admin_key: self.admin_key,
            analyst_login: self.analyst_login,
            analyst_password: self.analyst_password.unwrap_or(defaults.analyst_password),
            analyst_key: self.analyst_key.unwrap_or(defaults.analyst_key),
            cortex_servers,
            job_latency: Latency {
                min: self.job_latency_min,
                max: self.job_latency_max,
            },
            refresh_delay: self.refresh_delay,
            job_cache: self.job_cache,
            notification_delay: self.notification_delay,
            emulate_runanalyzer_lookup_bug: self.emulate_runanalyzer_lookup_bug,
            role,
            cortex_urls,
            cortex_key: self.cortex_key,
            cortex_basic_auth: self.cortex_basic_auth,
            status_check_interval: self.status_check_interval,
            licence,
        })
    }
}

/// `thehive/` and `/thehive/` become `/thehive`; `/` becomes empty.
fn normalise_context_path(path: &str) -> String {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// `URL` (named `cortex<index>`) or `NAME=URL`; a trailing `/` is dropped.
fn parse_cortex_url(index: usize, spec: &str) -> Result<(String, String), EmulatorError> {
    let invalid = |reason: &str| EmulatorError::InvalidOption {
        option: "--cortex-url",
        reason: format!("`{spec}`: {reason}"),
    };
    // A URL has `://` before any `=`; otherwise the text before `=` is a name.
    let (name, url) = match spec.split_once('=') {
        Some((name, url)) if !name.contains("://") => (name.trim().to_owned(), url.trim()),
        _ => (format!("cortex{index}"), spec.trim()),
    };
    if name.is_empty() {
        return Err(invalid("empty server name"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(invalid("expected an http:// or https:// URL"));
    }
    Ok((name, url.trim_end_matches('/').to_owned()))
}

fn parse_cortex(spec: &str) -> Result<CortexServerConfig, EmulatorError> {
    let invalid = |reason: &str| EmulatorError::InvalidOption {
        option: "--cortex",
        reason: format!("`{spec}`: {reason}"),
    };
    let (name, analyzers) = spec
        .split_once('=')
        .ok_or_else(|| invalid("expected NAME=ANALYZER,ANALYZER"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("empty server name"));
    }
    let analyzers: Vec<String> = analyzers
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(CortexServerConfig {
        name: name.to_owned(),
        analyzers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    #[test]
    fn flags_become_a_config() {
        let cli = Cli::parse_from([
            "x",
            "--bind",
            "127.0.0.1:0",
            "--context-path",
            "thehive/",
            "--cortex",
            "c1=AbuseIPDB_1_0",
            "--refresh-delay",
            "1s",
            "--analyst-key",
            "k",
        ]);

        let config = cli.args.into_config().expect("valid flags");

        assert_eq!(config.context_path, "/thehive");
        assert_eq!(config.cortex_servers[0].name, "c1");
        assert_eq!(config.refresh_delay, Duration::from_secs(1));
        assert_eq!(config.analyst_key, "k");
    }

    #[test]
    fn debug_hides_secrets() {
        let cli = Cli::parse_from([
            "x",
            "--analyst-key",
            "sentinel-key",
            "--admin-password",
            "sentinel-pw",
        ]);

        let text = format!("{:?}", cli.args);

        assert!(!text.contains("sentinel"), "{text}");
    }

    #[test]
    fn cortex_urls_are_named_by_position_unless_named() {
        let cli = Cli::parse_from([
            "x",
            "--role",
            "thehive",
            "--cortex-url",
            "http://a:9001/cortex/",
            "--cortex-url",
            "main=http://b:9001?x=1",
        ]);

        let config = cli.args.into_config().expect("valid flags");

        assert_eq!(config.role, Role::TheHive);
        assert_eq!(
            config.cortex_urls,
            vec![
                ("cortex0".to_owned(), "http://a:9001/cortex".to_owned()),
                ("main".to_owned(), "http://b:9001?x=1".to_owned()),
            ]
        );
    }

    #[test]
    fn thehive_role_takes_the_thehive5_profile() {
        // The container stack's TheHive command line.
        let cli = Cli::parse_from([
            "x",
            "--role",
            "thehive",
            "--profile",
            "thehive5",
            "--cortex-url",
            "cortex0=http://hivecheck-s-cortex:9001",
            "--cortex-key",
            "k",
        ]);

        let config = cli.args.into_config().expect("valid flags");

        assert_eq!(
            (config.role, config.profile),
            (Role::TheHive, Profile::TheHive5)
        );
        assert_eq!(config.cortex_key.as_deref(), Some("k"));
    }

    #[test]
    fn thehive_role_needs_a_cortex_url() {
        let cli = Cli::parse_from(["x", "--role", "thehive"]);

        assert!(cli.args.into_config().is_err());
    }

    #[test]
    fn licence_flag_names_a_trial_state_or_a_plan() {
        let parse = |value: &str| {
            Cli::parse_from(["x", "--licence", value])
                .args
                .into_config()
                .map(|c| c.licence)
        };

        assert_eq!(parse("trial").unwrap(), LicenceState::Trial);
        assert_eq!(parse("expired-trial").unwrap(), LicenceState::ExpiredTrial);
        assert_eq!(
            parse("Gold").unwrap(),
            LicenceState::Installed("Gold".to_owned())
        );
        assert!(parse(" ").is_err());
    }

    #[test]
    fn thehive5_role_starts_without_cortex_servers() {
        // The container stack's TheHive: its Cortex comes later, over the API.
        let cli = Cli::parse_from(["x", "--role", "thehive", "--profile", "thehive5"]);

        let config = cli.args.into_config().expect("valid flags");

        assert!(config.cortex_urls.is_empty());
        assert!(config.cortex_key.is_none());
    }

    #[test]
    fn bad_cortex_spec_is_rejected() {
        assert!(parse_cortex("nope").is_err());
    }
}
