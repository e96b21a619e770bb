//! Target configuration: flags, environment variables, and named profiles in `hivecheck.toml`.
//!
//! [`TargetArgs`] holds what the operator gave; [`TargetArgs::resolve`] fills the gaps from the
//! profile named by `--profile`, reads secrets from the environment or from files, and says
//! whether the run goes to a real TheHive or to the built-in emulator (when no URL is given).
//! Flags and environment variables win over the profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::client::{ApiVersion, Auth, ClientError, Endpoint, Secret};
use crate::runner::Target;

/// How the user and admin sessions log in when they have a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// A profile of the configuration file to take the target from.
    #[arg(long, env = "HIVECHECK_PROFILE")]
    pub profile: Option<String>,
    /// The configuration file holding the profiles.
    #[arg(
        long,
        env = "HIVECHECK_CONFIG",
        default_value = "hivecheck.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
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
    /// TheHive's API: v0 (TheHive 4) or v1 (TheHive 5); chosen from /api/status when absent.
    #[arg(long, env = "THEHIVE_API", value_enum)]
    pub api: Option<ApiVersion>,
    /// How sessions with a password authenticate.
    #[arg(long, value_enum)]
    pub auth: Option<PasswordAuth>,
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
    Url(#[source] Box<ClientError>),
    /// A session has neither a password nor an API key, or a password without a login.
    #[error("no usable credentials for the {role} session: {detail}")]
    Credentials {
        /// `user` or `admin`.
        role: &'static str,
        /// What is missing.
        detail: String,
    },
    /// The configuration file cannot be read.
    #[error("failed to read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("{}:{line}:{column}: {message}\n{snippet}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
        /// The line with a caret.
        snippet: String,
    },
    /// The profile named does not exist.
    #[error("no profile `{name}` in `{}` (profiles: {available})", path.display())]
    NoProfile {
        /// The name asked for.
        name: String,
        /// The file.
        path: PathBuf,
        /// The names it has.
        available: String,
    },
    /// The CA certificate file cannot be read, or holds no PEM certificate.
    #[error("failed to use the CA certificate `{}` given by {origin}: {reason}", path.display())]
    CaCert {
        /// Where it was given: ``--ca-cert`` or ``ca_cert` of profile `staging``.
        origin: String,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A profile gives one secret in two ways (`password` and `password_env`, …).
    #[error("profile `{profile}` gives `{key}` more than once: as {given}")]
    SecretTwice {
        /// The profile.
        profile: String,
        /// The secret, e.g. `password`.
        key: String,
        /// The keys used, e.g. `` `password`, `password_env` ``.
        given: String,
    },
    /// A secret named by `*_env` or `*_file` cannot be read.
    #[error("failed to read the secret `{key}` of profile `{profile}`: {reason}")]
    Secret {
        /// The profile.
        profile: String,
        /// The key, e.g. `password_env`.
        key: String,
        /// Why.
        reason: String,
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
            ConfigError::Read { .. } | ConfigError::NoProfile { .. } => {
                "write the profile as [profile.NAME] in hivecheck.toml, or name another file with --config".to_owned()
            }
            ConfigError::Invalid { .. } => {
                "README.md, section \"Profiles\", lists the keys a profile takes".to_owned()
            }
            ConfigError::Secret { .. } => {
                "export the variable with the secret, or check that the file exists, is readable \
                 and holds the secret"
                    .to_owned()
            }
            ConfigError::CaCert { .. } => {
                "give a PEM file holding the CA certificate that signed TheHive's certificate"
                    .to_owned()
            }
            ConfigError::SecretTwice { key, .. } => format!(
                "keep one of `{key}_env` (a variable's name), `{key}_file` (a path) or `{key}` \
                 (plain text, discouraged)"
            ),
        }
    }
}

/// One `[profile.NAME]` of `hivecheck.toml`. Secrets belong in `*_env` (a variable's name) or
/// `*_file` (a path); a plain `password`/`api_key` works but draws a warning.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    url: Option<String>,
    org: Option<String>,
    // The runbook's header spelling, as a key, means the same as `organization`.
    #[serde(alias = "X-Organization", alias = "x-organization")]
    organization: Option<String>,
    user: Option<String>,
    password: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    api_key: Option<String>,
    api_key_env: Option<String>,
    api_key_file: Option<PathBuf>,
    admin_user: Option<String>,
    admin_password: Option<String>,
    admin_password_env: Option<String>,
    admin_password_file: Option<PathBuf>,
    admin_api_key: Option<String>,
    admin_api_key_env: Option<String>,
    admin_api_key_file: Option<PathBuf>,
    cortex_id: Option<String>,
    api: Option<ApiVersion>,
    auth: Option<PasswordAuth>,
    ca_cert: Option<PathBuf>,
    #[serde(default)]
    insecure: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profile: BTreeMap<String, Profile>,
}

impl TargetArgs {
    /// Merges the profile (if any), checks the result, and says where the run goes. What
    /// works but deserves attention (a plain-text secret, the American spelling) is logged as
    /// a warning.
    pub fn resolve(&self) -> Result<TargetPlan, ConfigError> {
        let mut warnings = Vec::new();
        let plan = self.plan(&mut warnings);
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        plan
    }

    fn plan(&self, warnings: &mut Vec<String>) -> Result<TargetPlan, ConfigError> {
        let args = match &self.profile {
            Some(name) => self.with_profile(name, warnings)?,
            None => self.clone(),
        };
        let Some(url) = &args.url else {
            return Ok(TargetPlan::Builtin);
        };
        let mut endpoint = Endpoint::parse(url)
            .map_err(|e| ConfigError::Url(Box::new(e)))?
            .with_insecure(args.insecure)
            .with_api(args.api);
        if let Some(path) = &args.ca_cert {
            let origin = match (&self.ca_cert, &self.profile) {
                (None, Some(profile)) => format!("`ca_cert` of profile `{profile}`"),
                _ => "`--ca-cert`".to_owned(),
            };
            endpoint = endpoint
                .with_ca_file(path)
                .map_err(|reason| ConfigError::CaCert {
                    origin,
                    path: path.clone(),
                    reason,
                })?;
        }
        let method = args.auth.unwrap_or_default();
        let user = credentials("user", &args.user, &args.password, &args.api_key, method)?
            .ok_or_else(|| ConfigError::Credentials {
                role: "user",
                detail: "neither a password nor an API key".to_owned(),
            })?;
        let admin = credentials(
            "admin",
            &args.admin_user,
            &args.admin_password,
            &args.admin_api_key,
            method,
        )?;
        Ok(TargetPlan::Remote(Box::new(Target {
            label: format!("TheHive at {}", endpoint.base()),
            endpoint,
            org: args.pick_organisation(warnings),
            user,
            admin,
            cortex: args.cortex_id.clone(),
            builtin: false,
        })))
    }

    /// The organisation, accepting the American spelling with a warning.
    pub fn organisation(&self) -> Option<String> {
        let mut warnings = Vec::new();
        let org = self.pick_organisation(&mut warnings);
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        org
    }

    fn pick_organisation(&self, warnings: &mut Vec<String>) -> Option<String> {
        match (&self.org, &self.organization) {
            (Some(org), _) => Some(org.clone()),
            (None, Some(org)) => {
                warnings.push(format!(
                    "`organization` accepted as the organisation `{org}`; TheHive reads only the \
                     `X-Organisation` header (British spelling), which is what hivecheck sends"
                ));
                Some(org.clone())
            }
            (None, None) => None,
        }
    }

    fn with_profile(
        &self,
        name: &str,
        warnings: &mut Vec<String>,
    ) -> Result<TargetArgs, ConfigError> {
        let profile = load_profile(&self.config, name)?;
        // Relative paths in the file mean the same wherever hivecheck is started from.
        let dir = self.config.parent().unwrap_or(Path::new(""));
        let relative = |path: &Option<PathBuf>| path.as_ref().map(|p| dir.join(p));
        let mut merged = self.clone();
        let fill = |slot: &mut Option<String>, value: Option<String>| {
            if slot.is_none() {
                *slot = value;
            }
        };
        fill(&mut merged.url, profile.url.clone());
        fill(&mut merged.org, profile.org.clone());
        fill(&mut merged.organization, profile.organization.clone());
        fill(&mut merged.user, profile.user.clone());
        fill(&mut merged.admin_user, profile.admin_user.clone());
        fill(&mut merged.cortex_id, profile.cortex_id.clone());
        let secrets = [
            (
                "password",
                &profile.password,
                &profile.password_env,
                &profile.password_file,
                &mut merged.password,
            ),
            (
                "api_key",
                &profile.api_key,
                &profile.api_key_env,
                &profile.api_key_file,
                &mut merged.api_key,
            ),
            (
                "admin_password",
                &profile.admin_password,
                &profile.admin_password_env,
                &profile.admin_password_file,
                &mut merged.admin_password,
            ),
            (
                "admin_api_key",
                &profile.admin_api_key,
                &profile.admin_api_key_env,
                &profile.admin_api_key_file,
                &mut merged.admin_api_key,
            ),
        ];
        for (key, plain, env, file, slot) in secrets {
            let source = secret_source(name, key, plain, env, &relative(file))?;
            // The warning is about the file, so it is given even when a flag or variable
            // overrides the value: the secret still sits there in plain text.
            if matches!(source, Some(SecretSource::Plain(_))) {
                warnings.push(format!(
                    "profile `{name}` holds `{key}` in plain text; prefer `{key}_env` (a \
                     variable's name) or `{key}_file` (a path), and keep the file out of \
                     version control"
                ));
            }
            if slot.is_none() {
                *slot = source.map(|s| s.read(name, key)).transpose()?;
            }
        }
        merged.api = merged.api.or(profile.api);
        merged.auth = merged.auth.or(profile.auth);
        merged.ca_cert = merged.ca_cert.or(relative(&profile.ca_cert));
        merged.insecure |= profile.insecure;
        Ok(merged)
    }
}

fn load_profile(path: &Path, name: &str) -> Result<Profile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
        let (line, column, snippet) = crate::scenario::locate(&text, e.span().unwrap_or(0..0));
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
            snippet,
        }
    })?;
    let available = file.profile.keys().cloned().collect::<Vec<_>>().join(", ");
    file.profile
        .get(name)
        .cloned()
        .ok_or_else(|| ConfigError::NoProfile {
            name: name.to_owned(),
            path: path.to_owned(),
            available: if available.is_empty() {
                "none".to_owned()
            } else {
                available
            },
        })
}

/// Where a profile takes one secret from.
enum SecretSource {
    /// Written in the file.
    Plain(String),
    /// The name of an environment variable.
    Env(String),
    /// A file holding the secret (a trailing newline is not part of it).
    File(PathBuf),
}

/// The one way a profile gives `key`, or an error when it gives more than one.
fn secret_source(
    profile: &str,
    key: &str,
    plain: &Option<String>,
    env: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<SecretSource>, ConfigError> {
    let mut given: Vec<(String, SecretSource)> = Vec::new();
    if let Some(value) = plain {
        given.push((format!("`{key}`"), SecretSource::Plain(value.clone())));
    }
    if let Some(variable) = env {
        given.push((format!("`{key}_env`"), SecretSource::Env(variable.clone())));
    }
    if let Some(path) = file {
        given.push((format!("`{key}_file`"), SecretSource::File(path.clone())));
    }
    if given.len() > 1 {
        return Err(ConfigError::SecretTwice {
            profile: profile.to_owned(),
            key: key.to_owned(),
            given: given
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
        });
    }
    Ok(given.pop().map(|(_, source)| source))
}

impl SecretSource {
    /// The secret itself; an unset variable, an unreadable file and an empty value are errors.
    fn read(self, profile: &str, key: &str) -> Result<String, ConfigError> {
        let fail = |suffix: &str, reason: String| ConfigError::Secret {
            profile: profile.to_owned(),
            key: format!("{key}{suffix}"),
            reason,
        };
        let (suffix, value, empty) = match self {
            SecretSource::Plain(value) => ("", value, "it is empty".to_owned()),
            SecretSource::Env(variable) => {
                let value = std::env::var(&variable)
                    .map_err(|_| fail("_env", format!("the variable `{variable}` is not set")))?;
                ("_env", value, format!("the variable `{variable}` is empty"))
            }
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| fail("_file", format!("`{}`: {e}", path.display())))?;
                let value = text.trim_end_matches(['\n', '\r']).to_owned();
                (
                    "_file",
                    value,
                    format!("the file `{}` is empty", path.display()),
                )
            }
        };
        if value.is_empty() {
            return Err(fail(suffix, empty));
        }
        Ok(value)
    }
}

fn credentials(
    role: &'static str,
    login: &Option<String>,
    password: &Option<String>,
    key: &Option<String>,
    method: PasswordAuth,
) -> Result<Option<Auth>, ConfigError> {
    let empty = |what: &str| ConfigError::Credentials {
        role,
        detail: format!("an empty {what}"),
    };
    if key.as_deref() == Some("") {
        return Err(empty("API key"));
    }
    if password.as_deref() == Some("") && key.is_none() {
        return Err(empty("password"));
    }
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

    fn with_file(text: &str, profile: &str) -> (tempfile::TempDir, TargetArgs) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hivecheck.toml");
        std::fs::write(&path, text).unwrap();
        let args = TargetArgs {
            profile: Some(profile.into()),
            config: path,
            ..Default::default()
        };
        (dir, args)
    }

    #[test]
    fn profile_fills_the_target_and_reads_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("pw");
        std::fs::write(&secret, "s3cret-from-file\n").unwrap();
        let text = format!(
            "[profile.staging]\nurl = \"https://thehive.example/thehive\"\norg = \"SOC\"\n\
             user = \"bot@example.org\"\npassword_file = \"{}\"\napi = \"v1\"\n",
            secret.display()
        );
        let (_keep, args) = with_file(&text, "staging");
        let TargetPlan::Remote(target) = args.resolve().unwrap() else {
            panic!("remote")
        };
        assert_eq!(target.endpoint.base(), "https://thehive.example/thehive");
        assert_eq!(target.org.as_deref(), Some("SOC"));
        let Auth::Session { password, .. } = &target.user else {
            panic!("session")
        };
        assert_eq!(password.expose(), "s3cret-from-file");
    }

    #[test]
    fn flags_win_over_the_profile() {
        let (_keep, mut args) = with_file(
            "[profile.p]\nurl = \"http://a\"\norg = \"A\"\nuser = \"u\"\npassword = \"x\"\n",
            "p",
        );
        args.org = Some("B".into());
        let TargetPlan::Remote(target) = args.resolve().unwrap() else {
            panic!("remote")
        };
        assert_eq!(target.org.as_deref(), Some("B"));
    }

    #[test]
    fn unknown_profile_key_points_at_its_line() {
        let (_keep, args) = with_file("[profile.p]\nurl = \"http://a\"\npasword = \"x\"\n", "p");
        let err = args.resolve().unwrap_err();
        assert!(
            err.to_string()
                .contains("hivecheck.toml:3:1: unknown field `pasword`"),
            "{err}"
        );
    }

    #[test]
    fn missing_profile_lists_the_existing_ones() {
        let (_keep, args) = with_file("[profile.staging]\nurl = \"http://a\"\n", "prod");
        let err = args.resolve().unwrap_err();
        assert!(err.to_string().contains("(profiles: staging)"), "{err}");
    }

    /// Resolves `args` and returns the warnings it would log.
    fn warnings_of(args: &TargetArgs) -> (Result<TargetPlan, ConfigError>, String) {
        let mut warnings = Vec::new();
        let plan = args.plan(&mut warnings);
        (plan, warnings.join("\n"))
    }

    #[test]
    fn every_plain_text_secret_of_the_profile_draws_a_warning() {
        let (_keep, mut args) = with_file(
            "[profile.p]\nurl = \"http://a\"\nuser = \"u\"\npassword = \"pw-sentinel\"\n\
             admin_user = \"admin\"\nadmin_api_key = \"key-sentinel\"\n",
            "p",
        );
        // A flag overriding the password does not take it out of the file.
        args.password = Some("from-the-flag".into());

        let (resolved, warnings) = warnings_of(&args);

        assert!(resolved.is_ok(), "{:?}", resolved.err());
        assert!(
            warnings.contains("holds `password` in plain text"),
            "{warnings}"
        );
        assert!(
            warnings.contains("holds `admin_api_key` in plain text"),
            "{warnings}"
        );
        assert!(!warnings.contains("sentinel"), "{warnings}");
    }

    #[test]
    fn secrets_from_variables_and_files_draw_no_warning() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let (_keep, args) = with_file(
            &format!(
                "[profile.p]\nurl = \"http://a\"\nuser = \"u\"\npassword_file = \"{}\"\n",
                dir.path().join("pw").display()
            ),
            "p",
        );

        let (resolved, warnings) = warnings_of(&args);

        assert!(resolved.is_ok(), "{:?}", resolved.err());
        assert!(!warnings.contains("plain text"), "{warnings}");
    }

    #[test]
    fn missing_secret_file_names_the_key_and_the_path() {
        let (_keep, args) = with_file(
            "[profile.p]\nurl = \"http://a\"\nuser = \"u\"\npassword_file = \"/nonexistent/hivecheck-pw\"\n",
            "p",
        );

        let err = args.resolve().unwrap_err();

        let text = err.to_string();
        assert!(text.contains("`password_file` of profile `p`"), "{text}");
        assert!(text.contains("/nonexistent/hivecheck-pw"), "{text}");
        assert!(err.hint().contains("the file exists"), "{}", err.hint());
    }

    #[test]
    fn empty_secret_file_is_refused() {
        let (keep, _) = with_file("", "p");
        std::fs::write(keep.path().join("empty"), "\n").unwrap();
        let (_keep, args) = with_file(
            &format!(
                "[profile.p]\nurl = \"http://a\"\nadmin_user = \"a\"\nadmin_password_file = \"{}\"\napi_key = \"k\"\n",
                keep.path().join("empty").display()
            ),
            "p",
        );

        let err = args.resolve().unwrap_err();

        assert!(err.to_string().contains("is empty"), "{err}");
        assert!(err.to_string().contains("`admin_password_file`"), "{err}");
    }

    #[test]
    fn a_secret_given_twice_is_refused() {
        let (_keep, args) = with_file(
            "[profile.p]\nurl = \"http://a\"\nuser = \"u\"\npassword = \"x\"\npassword_env = \"PW\"\n",
            "p",
        );

        let err = args.resolve().unwrap_err();

        assert!(
            err.to_string()
                .contains("gives `password` more than once: as `password` and `password_env`"),
            "{err}"
        );
        assert!(err.hint().contains("keep one of"), "{}", err.hint());
    }

    #[test]
    fn empty_password_flag_is_refused() {
        let args = TargetArgs {
            url: Some("http://a".into()),
            user: Some("u".into()),
            password: Some(String::new()),
            ..Default::default()
        };

        let err = args.resolve().unwrap_err();

        assert!(err.to_string().contains("an empty password"), "{err}");
    }

    #[test]
    fn relative_paths_in_the_file_are_read_from_its_directory() {
        let (keep, _) = with_file("", "p");
        std::fs::write(keep.path().join("pw"), "from-beside-the-file").unwrap();
        let path = keep.path().join("hivecheck.toml");
        std::fs::write(
            &path,
            "[profile.p]\nurl = \"http://a\"\nuser = \"u\"\npassword_file = \"pw\"\n",
        )
        .unwrap();
        let args = TargetArgs {
            profile: Some("p".into()),
            config: path,
            ..Default::default()
        };

        let TargetPlan::Remote(target) = args.resolve().unwrap() else {
            panic!("remote")
        };

        let Auth::Session { password, .. } = &target.user else {
            panic!("session")
        };
        assert_eq!(password.expose(), "from-beside-the-file");
    }

    #[test]
    fn runbook_spellings_of_the_organisation_key_are_accepted_with_a_warning() {
        for key in ["organization", "X-Organization", "x-organization"] {
            let (_keep, args) = with_file(
                &format!("[profile.p]\nurl = \"http://a\"\n\"{key}\" = \"SOC\"\napi_key = \"k\"\n"),
                "p",
            );

            let (resolved, warnings) = warnings_of(&args);

            let Ok(TargetPlan::Remote(target)) = resolved else {
                panic!("{key}: {:?}", resolved.err())
            };
            assert_eq!(target.org.as_deref(), Some("SOC"), "{key}");
            assert!(warnings.contains("X-Organisation"), "{key}: {warnings}");
        }
    }

    #[test]
    fn ca_cert_that_is_missing_or_not_pem_is_a_usage_error_naming_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
        for (path, reason) in [
            (dir.path().join("missing.pem"), "No such file"),
            (not_pem, "no PEM certificate"),
        ] {
            let args = TargetArgs {
                url: Some("https://a".into()),
                api_key: Some("k".into()),
                ca_cert: Some(path),
                ..Default::default()
            };

            let err = args.resolve().unwrap_err();

            assert!(matches!(err, ConfigError::CaCert { .. }), "{err}");
            assert!(err.to_string().contains("`--ca-cert`"), "{err}");
            assert!(err.to_string().contains(reason), "{err}");
        }
    }

    #[test]
    fn ca_cert_of_a_profile_is_named_as_the_profile_key() {
        let (_keep, args) = with_file(
            "[profile.p]\nurl = \"https://a\"\napi_key = \"k\"\nca_cert = \"missing.pem\"\n",
            "p",
        );

        let err = args.resolve().unwrap_err();

        assert!(
            err.to_string().contains("`ca_cert` of profile `p`"),
            "{err}"
        );
    }

    #[test]
    fn unset_secret_variable_is_an_error() {
        let (_keep, args) = with_file(
            "[profile.p]\nurl = \"http://a\"\nuser = \"u\"\npassword_env = \"HIVECHECK_TEST_SURELY_UNSET\"\n",
            "p",
        );
        let err = args.resolve().unwrap_err();
        assert!(
            err.to_string()
                .contains("`HIVECHECK_TEST_SURELY_UNSET` is not set"),
            "{err}"
        );
    }
}
