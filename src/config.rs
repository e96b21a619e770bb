//! Target configuration from flags and environment variables.
//!
//! [`TargetArgs`] holds what the operator gave; [`TargetArgs::resolve`] checks it and says
//! whether the run goes to a real TheHive or to the built-in emulator (when no URL is given).

use std::path::PathBuf;

use crate::client::{Auth, ClientError, Endpoint, Secret};
use crate::runner::Target;

/// How the user and admin sessions log in when they have a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PasswordAuth {
    /// `POST /api/login` and the session cookie, as the runbook does.
    #[default]
    Session,
    /// HTTP Basic on every request.
    Basic,
}

/// The target flags (each also read from the environment variable shown in `--help`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// TheHive's base URL, with its context path if any; without it, the built-in emulator runs.
    #[arg(long, env = "THEHIVE_URL")]
    pub url: Option<String>,
    /// The organisation, sent as the `X-Organisation` header.
    #[arg(long, env = "THEHIVE_ORG")]
    pub org: Option<String>,
    /// The organisation under its American spelling; accepted, with a warning.
    #[arg(long, env = "THEHIVE_ORGANIZATION", hide = true)]
    pub organization: Option<String>,
    /// The user login for observables and jobs.
    #[arg(long, env = "THEHIVE_USER")]
    pub user: Option<String>,
    /// The user's password.
    #[arg(long, env = "THEHIVE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// The user's API key (instead of login and password).
    #[arg(long, env = "THEHIVE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The admin login for organisation configuration.
    #[arg(long, env = "THEHIVE_ADMIN_USER")]
    pub admin_user: Option<String>,
    /// The admin's password.
    #[arg(long, env = "THEHIVE_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// The admin's API key.
    #[arg(long, env = "THEHIVE_ADMIN_API_KEY", hide_env_values = true)]
    pub admin_api_key: Option<String>,
    /// A Cortex server name that overrides the scenarios' `cortex`.
    #[arg(long, env = "CORTEX_ID")]
    pub cortex_id: Option<String>,
    /// How sessions with a password authenticate.
    #[arg(long, value_enum, default_value_t)]
    pub auth: PasswordAuth,
    /// An extra CA certificate (PEM) to trust.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any TLS certificate (never the default).
    #[arg(long)]
    pub insecure: bool,
}

/// Where a run goes.
#[derive(Debug)]
pub enum TargetPlan {
    /// No URL: start the built-in emulator and use its users.
    Builtin,
    /// A real (or separately started) TheHive.
    Remote(Box<Target>),
}

/// Target configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL is unusable.
    #[error("invalid target URL")]
    Url(#[source] ClientError),
    /// A session has neither a password nor an API key, or a password without a login.
    #[error("no usable credentials for the {role} session: {detail}")]
    Credentials {
        /// `user` or `admin`.
        role: &'static str,
        /// What is missing.
        detail: String,
    },
}

impl ConfigError {
    /// What to set.
    pub fn hint(&self) -> String {
        match self {
            ConfigError::Url(e) => e.hint().unwrap_or_default(),
            ConfigError::Credentials { role: "user", .. } => {
                "set THEHIVE_USER and THEHIVE_PASSWORD, or THEHIVE_API_KEY".to_owned()
            }
            ConfigError::Credentials { .. } => {
                "set THEHIVE_ADMIN_USER and THEHIVE_ADMIN_PASSWORD, or THEHIVE_ADMIN_API_KEY"
                    .to_owned()
            }
        }
    }
}

impl TargetArgs {
    /// Checks the flags. Warnings (an American-spelled organisation) go to the log.
    pub fn resolve(&self) -> Result<TargetPlan, ConfigError> {
        let Some(url) = &self.url else {
            return Ok(TargetPlan::Builtin);
        };
        let mut endpoint = Endpoint::parse(url)
            .map_err(ConfigError::Url)?
            .with_insecure(self.insecure);
        if let Some(ca) = &self.ca_cert {
            endpoint = endpoint.with_ca_cert(ca);
        }
        let user = credentials("user", &self.user, &self.password, &self.api_key, self.auth)?
            .ok_or_else(|| ConfigError::Credentials {
                role: "user",
                detail: "neither a password nor an API key".to_owned(),
            })?;
        let admin = credentials(
            "admin",
            &self.admin_user,
            &self.admin_password,
            &self.admin_api_key,
            self.auth,
        )?;
        Ok(TargetPlan::Remote(Box::new(Target {
            label: format!("TheHive at {}", endpoint.base()),
            endpoint,
            org: self.organisation(),
            user,
            admin,
            cortex: self.cortex_id.clone(),
            builtin: false,
        })))
    }

    /// The organisation, accepting the American spelling with a warning.
    pub fn organisation(&self) -> Option<String> {
        match (&self.org, &self.organization) {
            (Some(org), _) => Some(org.clone()),
            (None, Some(org)) => {
                tracing::warn!(
                    "`organization` accepted as the organisation `{org}`; TheHive reads only the \
                     `X-Organisation` header (British spelling), which is what hivecheck sends"
                );
                Some(org.clone())
            }
            (None, None) => None,
        }
    }
}

fn credentials(
    role: &'static str,
    login: &Option<String>,
    password: &Option<String>,
    key: &Option<String>,
    method: PasswordAuth,
) -> Result<Option<Auth>, ConfigError> {
    match (login, password, key) {
        (_, _, Some(key)) => Ok(Some(Auth::ApiKey {
            key: Secret::new(key.clone()),
        })),
        (Some(login), Some(password), None) => {
            let (login, password) = (login.clone(), Secret::new(password.clone()));
            Ok(Some(match method {
                PasswordAuth::Session => Auth::Session { login, password },
                PasswordAuth::Basic => Auth::Basic { login, password },
            }))
        }
        (None, Some(_), None) => Err(ConfigError::Credentials {
            role,
            detail: "a password without a login".to_owned(),
        }),
        (Some(login), None, None) => Err(ConfigError::Credentials {
            role,
            detail: format!("a login (`{login}`) without a password"),
        }),
        (None, None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_means_the_builtin_emulator() {
        assert!(matches!(
            TargetArgs::default().resolve(),
            Ok(TargetPlan::Builtin)
        ));
    }

    #[test]
    fn login_without_password_is_refused_with_a_hint() {
        let args = TargetArgs {
            url: Some("http://127.0.0.1:9".into()),
            user: Some("analyst@thehive.local".into()),
            ..Default::default()
        };
        let err = args.resolve().unwrap_err();
        assert!(err.to_string().contains("without a password"), "{err}");
        assert!(err.hint().contains("THEHIVE_PASSWORD"));
    }

    #[test]
    fn american_spelling_is_accepted() {
        let args = TargetArgs {
            organization: Some("demo".into()),
            ..Default::default()
        };
        assert_eq!(args.organisation().as_deref(), Some("demo"));
    }
}
