//! A kept stack between processes. `stack up` (and any kept run) writes the stack's URLs and
//! generated credentials to `<out>/stack-<name>.env`, readable only by its owner, in the
//! `KEY=VALUE` form a shell can source. `--reuse` reads that file back and attaches to the
//! stack when its TheHive and Cortex containers still run and TheHive answers `/api/status`,
//! so a local loop pays the start and the bootstrap once.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::ListContainersOptionsBuilder;

use super::bootstrap::Credentials;
use super::containers::{LABEL, Stack};
use crate::client::Secret;

/// Where the environment file of stack `name` lives under `dir`.
pub fn env_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("stack-{name}.env"))
}

/// Writes the stack's environment file (mode 0600 on Unix) and returns its path.
pub fn write(dir: &Path, stack: &Stack) -> std::io::Result<PathBuf> {
    let c = &stack.credentials;
    let secret = |s: &Option<Secret>| {
        s.as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default()
    };
    let text = format!(
        "# hivecheck stack `{name}`: source it (set -a; . FILE; set +a) to run against the stack\n\
         THEHIVE_URL={}\nTHEHIVE_ORG={}\nTHEHIVE_USER={}\nTHEHIVE_PASSWORD={}\nTHEHIVE_API_KEY={}\n\
         THEHIVE_ADMIN_USER={}\nTHEHIVE_ADMIN_PASSWORD={}\nCORTEX_ID={}\nHIVECHECK_STACK_CORTEX_URL={}\n",
        stack.thehive_url,
        c.org,
        c.user,
        secret(&c.password),
        secret(&c.api_key),
        c.admin,
        secret(&c.admin_password),
        c.cortex,
        stack.cortex_url,
        name = stack.name,
    );
    std::fs::create_dir_all(dir)?;
    let path = env_path(dir, &stack.name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path)?.write_all(text.as_bytes())?;
    Ok(path)
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
            admin_password: secret("THEHIVE_ADMIN_PASSWORD"),
            cortex: get("CORTEX_ID")?.to_owned(),
        },
    })
}

/// Whether stack `name`'s TheHive and Cortex containers are running; `Err` says which is not.
pub async fn running(name: &str) -> Result<(), String> {
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
    let names: Vec<String> = containers
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .collect();
    for service in ["thehive", "cortex"] {
        let wanted = format!("/hivecheck-{name}-{service}");
        if !names.contains(&wanted) {
            return Err(format!("its {service} container is not running"));
        }
    }
    Ok(())
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
        THEHIVE_ADMIN_USER=admin@x\nTHEHIVE_ADMIN_PASSWORD=apw\nCORTEX_ID=cortex0\n\
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
        assert_eq!(c.admin_password.as_ref().unwrap().expose(), "apw");
    }

    #[test]
    fn a_file_without_a_required_value_names_it() {
        let without = FILE.replace("CORTEX_ID=cortex0\n", "");
        assert_eq!(parse(&without).unwrap_err(), "CORTEX_ID");
    }
}
