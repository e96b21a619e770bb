//! A kept stack between processes. `stack up` (and any kept run) writes the stack's URLs and
//! generated credentials to `hivecheck-out/stacks/<name>.env` (whatever `--out` says), readable
//! only by its owner, in the `KEY=VALUE` form a shell can source; the stack's containers carry
//! the file's absolute path in a label. `--reuse` finds the file through that label (or the
//! default place) and attaches to the stack when its TheHive and Cortex containers still run
//! and TheHive answers `/api/status`, so a local loop pays the start and the bootstrap once.
//! Removing the stack deletes the file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::bootstrap::Credentials;
use super::containers::{ENV_FILE_LABEL, LABEL, Stack};
use crate::client::Secret;

/// Where environment files go unless a caller chooses: `hivecheck-out/stacks`, fixed so that
/// `--out` never moves them.
pub fn default_dir() -> PathBuf {
    PathBuf::from("hivecheck-out").join("stacks")
}

/// Where the environment file of stack `name` lives under `dir`.
pub fn env_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.env"))
}

/// The environment files under `dir`.
pub fn env_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "env"))
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes an environment file; whether there was one.
pub fn forget(path: &Path) -> bool {
    std::fs::remove_file(path).is_ok()
}

/// Writes the stack's environment file at `path` (mode 0600 on Unix, also when it already
/// existed with another mode).
pub fn write(path: &Path, stack: &Stack) -> std::io::Result<()> {
    let c = &stack.credentials;
    let secret = |s: &Option<Secret>| {
        s.as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default()
    };
    let text = format!(
        "# hivecheck stack `{name}`: source it (set -a; . FILE; set +a) to run against the stack\n\
         THEHIVE_URL={}\nTHEHIVE_ORG={}\nTHEHIVE_USER={}\nTHEHIVE_PASSWORD={}\nTHEHIVE_API_KEY={}\n\
         THEHIVE_ADMIN_USER={}\nTHEHIVE_ADMIN_API_KEY={}\nCORTEX_ID={}\nHIVECHECK_STACK_CORTEX_URL={}\n",
        stack.thehive_url,
        c.org,
        c.user,
        secret(&c.password),
        secret(&c.api_key),
        c.admin,
        secret(&c.admin_api_key),
        c.cortex,
        stack.cortex_url,
        name = stack.name,
    );
    write_private(path, &text)
}

/// Writes `text` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // The mode above applies only to a file created now; an older file keeps its own.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())
}

/// What an environment file holds.
#[derive(Debug)]
pub struct Kept {
    /// TheHive's URL from this host.
    pub thehive_url: String,
    /// Cortex's URL from this host.
    pub cortex_url: String,
    /// The bootstrap's credentials.
    pub credentials: Credentials,
}

/// Reads an environment file written by [`write`]. `Err` says why it cannot be used.
pub fn read(path: &Path) -> Result<Kept, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|missing| format!("{} has no {missing}", path.display()))
}

fn parse(text: &str) -> Result<Kept, &'static str> {
    let values: HashMap<&str, &str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .collect();
    let get = |key: &'static str| {
        values
            .get(key)
            .copied()
            .filter(|v| !v.is_empty())
            .ok_or(key)
    };
    let secret = |key: &'static str| get(key).ok().map(Secret::new);
    Ok(Kept {
        thehive_url: get("THEHIVE_URL")?.to_owned(),
        cortex_url: get("HIVECHECK_STACK_CORTEX_URL")?.to_owned(),
        credentials: Credentials {
            org: get("THEHIVE_ORG")?.to_owned(),
            user: get("THEHIVE_USER")?.to_owned(),
            password: Some(Secret::new(get("THEHIVE_PASSWORD")?)),
            api_key: secret("THEHIVE_API_KEY"),
            admin: get("THEHIVE_ADMIN_USER")?.to_owned(),
            admin_api_key: secret("THEHIVE_ADMIN_API_KEY"),
            cortex: get("CORTEX_ID")?.to_owned(),
        },
    })
}

/// Whether stack `name`'s TheHive and Cortex containers are running, with the environment
/// file their label names (if any); `Err` says which is not running.
pub async fn running(name: &str) -> Result<Option<PathBuf>, String> {
    let docker = Docker::connect_with_defaults().map_err(|e| e.to_string())?;
    let label = format!("{LABEL}={name}");
    let filters: HashMap<&str, Vec<&str>> =
        HashMap::from([("label", vec![label.as_str()]), ("status", vec!["running"])]);
    let options = ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| e.to_string())?;
    let mut env_file = None;
    for service in ["thehive", "cortex"] {
        let wanted = format!("/hivecheck-{name}-{service}");
        let Some(container) = containers
            .iter()
            .find(|c| c.names.as_ref().is_some_and(|n| n.contains(&wanted)))
        else {
            return Err(format!("its {service} container is not running"));
        };
        if service == "thehive" {
            env_file = container
                .labels
                .as_ref()
                .and_then(|l| l.get(ENV_FILE_LABEL))
                .map(PathBuf::from);
        }
    }
    Ok(env_file)
}

/// Whether TheHive answers `/api/status` at `url` with 200 within a few seconds.
pub async fn answers(url: &str) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let status_url = format!("{}/api/status", url.trim_end_matches('/'));
    match http.get(&status_url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("{status_url} answered {}", response.status())),
        Err(e) => Err(format!("{status_url} did not answer: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# comment\nTHEHIVE_URL=http://127.0.0.1:1\nTHEHIVE_ORG=hivecheck\n\
        THEHIVE_USER=analyst@x\nTHEHIVE_PASSWORD=pw=with=equals\nTHEHIVE_API_KEY=\n\
        THEHIVE_ADMIN_USER=admin@x\nTHEHIVE_ADMIN_API_KEY=apw-key\nCORTEX_ID=cortex0\n\
        HIVECHECK_STACK_CORTEX_URL=http://127.0.0.1:2\n";

    #[test]
    fn an_environment_file_reads_back_with_empty_values_as_absent() {
        let kept = parse(FILE).unwrap();
        assert_eq!(kept.thehive_url, "http://127.0.0.1:1");
        assert_eq!(kept.cortex_url, "http://127.0.0.1:2");
        let c = &kept.credentials;
        assert_eq!(
            (c.org.as_str(), c.cortex.as_str()),
            ("hivecheck", "cortex0")
        );
        assert_eq!(c.password.as_ref().unwrap().expose(), "pw=with=equals");
        assert!(c.api_key.is_none());
        assert_eq!(c.admin_api_key.as_ref().unwrap().expose(), "apw-key");
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_world_readable_file_becomes_private_when_rewritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stacks").join("s.env");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

        write_private(&path, "THEHIVE_URL=x\n").unwrap();

        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(format!("{mode:o}"), "600");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "THEHIVE_URL=x\n");
    }

    #[test]
    fn env_files_are_found_and_forgotten_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = env_path(dir.path(), "one");
        std::fs::write(&path, "x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();

        assert_eq!(env_files(dir.path()), vec![path.clone()]);
        assert!(forget(&path));
        assert!(!forget(&path));
    }

    #[test]
    fn a_file_without_a_required_value_names_it() {
        let without = FILE.replace("CORTEX_ID=cortex0\n", "");
        assert_eq!(parse(&without).unwrap_err(), "CORTEX_ID");
    }
}
