//! Starting, waiting for and removing the stack's containers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use testcontainers::core::wait::HttpWaitStrategy;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt, ReuseDirective};

use super::bootstrap::{self, Credentials};
use super::error::StackError;
use super::kept;
use crate::client::Secret;

/// The label every container of a stack carries, valued with the stack's name.
pub const LABEL: &str = "org.hivecheck.stack";

/// The images of a stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// TheHive (`strangebee/thehive:5.7.5`).
    pub thehive: String,
    /// Cortex (`thehiveproject/cortex:4.1.0`).
    pub cortex: String,
    /// Cassandra, for the real TheHive.
    pub cassandra: String,
    /// Elasticsearch, for the real TheHive and Cortex.
    pub elasticsearch: String,
    /// Whether TheHive and Cortex are the hivecheck emulator (then Cassandra and
    /// Elasticsearch are not started).
    pub emulator: bool,
}

impl Images {
    /// StrangeBee's testing stack versions (StrangeBeeCorp/docker `versions.env`).
    pub fn real() -> Self {
        Images {
            thehive: "strangebee/thehive:5.7.5".to_owned(),
            cortex: "thehiveproject/cortex:4.1.0".to_owned(),
            cassandra: "cassandra:4.1.12".to_owned(),
            elasticsearch: "elasticsearch:8.19.20".to_owned(),
            emulator: false,
        }
    }

    /// The hivecheck emulator image playing TheHive 5 and Cortex.
    pub fn emulator(image: &str) -> Self {
        Images {
            thehive: image.to_owned(),
            cortex: image.to_owned(),
            emulator: true,
            ..Images::real()
        }
    }
}

/// How to bring a stack up.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The stack's name; containers are `hivecheck-<name>-<service>` on network
    /// `hivecheck-<name>`.
    pub name: String,
    /// The images.
    pub images: Images,
    /// Leave the containers running when the [`Stack`] is dropped (`stack up`, `--keep`).
    pub keep: bool,
    /// The analyzers to enable in Cortex.
    pub analyzers: Vec<String>,
    /// The analyzer's API key (AbuseIPDB's), from the environment.
    pub analyzer_key: Option<Secret>,
    /// How long a container may take to answer `/api/status`.
    pub startup_timeout: Duration,
    /// Where container logs are written when something fails.
    pub log_dir: Option<PathBuf>,
    /// Attach to the kept stack of this name when it still runs (`--reuse`); otherwise bring
    /// it up, replacing what is left of it, and keep it.
    pub reuse: bool,
    /// Where a kept stack's environment file goes (`stack-<name>.env`).
    pub env_dir: PathBuf,
}

impl StackConfig {
    /// A stack of `images` named `name`, with the defaults for the rest.
    pub fn new(name: &str, images: Images) -> Self {
        StackConfig {
            name: name.to_owned(),
            images,
            keep: false,
            analyzers: vec!["AbuseIPDB_1_0".to_owned(), "AbuseIPDB_2_0".to_owned()],
            analyzer_key: std::env::var("ABUSEIPDB_KEY").ok().map(Secret::new),
            startup_timeout: Duration::from_secs(300),
            log_dir: None,
            reuse: false,
            env_dir: PathBuf::from("hivecheck-out"),
        }
    }

    fn network(&self) -> String {
        format!("hivecheck-{}", self.name)
    }

    fn container(&self, service: &str) -> String {
        format!("hivecheck-{}-{service}", self.name)
    }
}

/// A running, bootstrapped stack.
pub struct Stack {
    /// The stack's name.
    pub name: String,
    /// TheHive's URL from this host.
    pub thehive_url: String,
    /// Cortex's URL from this host.
    pub cortex_url: String,
    /// What the bootstrap created.
    pub credentials: Credentials,
    /// Whether this is a kept stack found running, not one started now.
    pub reused: bool,
    /// The environment file of a kept stack.
    pub env_file: Option<PathBuf>,
    containers: Vec<(String, ContainerAsync<GenericImage>)>,
    network: String,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("name", &self.name)
            .field("thehive_url", &self.thehive_url)
            .field("cortex_url", &self.cortex_url)
            .finish_non_exhaustive()
    }
}

/// Whether a Docker daemon answers, and what the client said when none does.
pub async fn docker_available() -> Result<(), StackError> {
    let docker = Docker::connect_with_defaults().map_err(|e| StackError::NoDocker {
        detail: e.to_string(),
    })?;
    docker
        .ping()
        .await
        .map(|_| ())
        .map_err(|e| StackError::NoDocker {
            detail: e.to_string(),
        })
}

impl Stack {
    /// Starts the containers on a private network, waits for them, and bootstraps them. On a
    /// failure the containers' logs are printed to stderr (and written to `log_dir`), and the
    /// containers are removed unless `keep`.
    ///
    /// With `reuse`, a kept stack of the same name that still runs is attached to instead
    /// (nothing is started or bootstrapped); a kept stack that cannot be reused is replaced.
    /// A kept stack's environment file is (re)written.
    pub async fn up(config: StackConfig) -> Result<Stack, StackError> {
        docker_available().await?;
        if config.reuse {
            match Stack::attach(&config).await {
                Ok(stack) => return Ok(stack),
                Err(reason) => {
                    let removed = remove_by_label(Some(&config.name)).await?;
                    if !removed.is_empty() {
                        eprintln!(
                            "stack `{}` cannot be reused ({reason}); replacing it",
                            config.name
                        );
                    }
                }
            }
        }
        let mut stack = Stack {
            name: config.name.clone(),
            thehive_url: String::new(),
            cortex_url: String::new(),
            credentials: Credentials::default(),
            reused: false,
            env_file: None,
            containers: Vec::new(),
            network: config.network(),
        };
        match stack.start_all(&config).await {
            Ok(()) if config.keep => {
                let path =
                    kept::write(&config.env_dir, &stack).map_err(|e| StackError::Bootstrap {
                        service: "the stack".to_owned(),
                        step: "write its environment file".to_owned(),
                        detail: e.to_string(),
                    })?;
                stack.env_file = Some(path);
                Ok(stack)
            }
            Ok(()) => Ok(stack),
            Err(error) => {
                stack.dump_logs(&config).await;
                if !config.keep {
                    let _ = stack.down().await;
                }
                Err(error)
            }
        }
    }

    /// The kept stack named in `config`, from its environment file, when its containers run
    /// and TheHive answers; `Err` says why it cannot be reused.
    async fn attach(config: &StackConfig) -> Result<Stack, String> {
        let path = kept::env_path(&config.env_dir, &config.name);
        if !path.exists() {
            return Err(format!("no {}", path.display()));
        }
        let kept = kept::read(&path)?;
        kept::running(&config.name).await?;
        kept::answers(&kept.thehive_url).await?;
        Ok(Stack {
            name: config.name.clone(),
            thehive_url: kept.thehive_url,
            cortex_url: kept.cortex_url,
            credentials: kept.credentials,
            reused: true,
            env_file: Some(path),
            containers: Vec::new(),
            network: config.network(),
        })
    }

    async fn start_all(&mut self, config: &StackConfig) -> Result<(), StackError> {
        let images = &config.images;
        if !images.emulator {
            let elasticsearch = start(
                config,
                "elasticsearch",
                &images.elasticsearch,
                9200,
                WaitFor::http(
                    HttpWaitStrategy::new("/_cluster/health")
                        .with_port(9200.tcp())
                        .with_expected_status_code(200u16),
                ),
                |request| {
                    request
                        .with_env_var("discovery.type", "single-node")
                        .with_env_var("xpack.security.enabled", "false")
                        .with_env_var("ES_JAVA_OPTS", "-Xms1g -Xmx1g")
                },
            );
            let cassandra = start(
                config,
                "cassandra",
                &images.cassandra,
                9042,
                WaitFor::message_on_stdout("Starting listening for CQL clients"),
                |request| {
                    request
                        .with_env_var("CASSANDRA_CLUSTER_NAME", "thp")
                        .with_env_var("MAX_HEAP_SIZE", "1024M")
                        .with_env_var("HEAP_NEWSIZE", "256M")
                },
            );
            let (elasticsearch, cassandra) = tokio::try_join!(elasticsearch, cassandra)?;
            self.containers
                .push(("elasticsearch".to_owned(), elasticsearch));
            self.containers.push(("cassandra".to_owned(), cassandra));
        }

        // Cortex first: TheHive is started with the key the Cortex bootstrap creates.
        let es_uri = format!("http://{}:9200", config.container("elasticsearch"));
        let emulator = images.emulator;
        let cortex = start(
            config,
            "cortex",
            &images.cortex,
            9001,
            status_wait(9001),
            move |request| {
                if emulator {
                    request.with_cmd([
                        "--role",
                        "cortex",
                        "--bind",
                        "0.0.0.0:9001",
                        "--cortex-basic-auth",
                    ])
                } else {
                    // Basic authentication is off by default in Cortex; the bootstrap needs it
                    // (as StrangeBee's init script enables it). Play reads `-D` overrides.
                    request
                        .with_env_var("es_uri", es_uri.as_str())
                        .with_env_var("JAVA_OPTS", "-Xms1000M -Xmx1000M -Dauth.method.basic=true")
                }
            },
        )
        .await?;
        self.cortex_url = url_of(&cortex, 9001).await?;
        self.containers.push(("cortex".to_owned(), cortex));
        let cortex_key = bootstrap::cortex(&self.cortex_url, config).await?;

        let cortex_host = config.container("cortex");
        let cassandra_host = config.container("cassandra");
        let es_host = config.container("elasticsearch");
        let key = cortex_key.expose().to_owned();
        let thehive = start(
            config,
            "thehive",
            &images.thehive,
            9000,
            status_wait(9000),
            move |request| {
                if emulator {
                    request.with_cmd([
                        "--role".to_owned(),
                        "thehive".to_owned(),
                        "--profile".to_owned(),
                        "thehive5".to_owned(),
                        "--bind".to_owned(),
                        "0.0.0.0:9000".to_owned(),
                        "--cortex-url".to_owned(),
                        format!("cortex0=http://{cortex_host}:9001"),
                        "--cortex-key".to_owned(),
                        key.clone(),
                    ])
                } else {
                    request.with_cmd([
                        "--secret".to_owned(),
                        bootstrap::random_secret(48),
                        "--cql-hostnames".to_owned(),
                        cassandra_host.clone(),
                        "--index-backend".to_owned(),
                        "elasticsearch".to_owned(),
                        "--es-hostnames".to_owned(),
                        es_host.clone(),
                        "--cortex-hostnames".to_owned(),
                        cortex_host.clone(),
                        "--cortex-keys".to_owned(),
                        key.clone(),
                    ])
                }
            },
        )
        .await?;
        self.thehive_url = url_of(&thehive, 9000).await?;
        self.containers.push(("thehive".to_owned(), thehive));
        self.credentials = bootstrap::thehive(&self.thehive_url).await?;
        Ok(())
    }

    /// The containers' output, newest last, `lines` lines each at most.
    pub async fn logs(&self, lines: usize) -> String {
        let mut text = String::new();
        for (service, container) in &self.containers {
            let mut output = container.stdout_to_vec().await.unwrap_or_default();
            output.extend(container.stderr_to_vec().await.unwrap_or_default());
            let output = crate::client::redact_text(&String::from_utf8_lossy(&output));
            let all: Vec<&str> = output.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            text.push_str(&format!(
                "---- {service} ({} lines, last {}) ----\n",
                all.len(),
                tail.len()
            ));
            for line in tail {
                text.push_str(line);
                text.push('\n');
            }
        }
        text
    }

    async fn dump_logs(&self, config: &StackConfig) {
        let logs = self.logs(80).await;
        eprintln!("{logs}");
        if let Some(dir) = &config.log_dir {
            let path = dir.join(format!("stack-{}.log", config.name));
            let full = self.logs(usize::MAX).await;
            if std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, full))
                .is_ok()
            {
                eprintln!("container logs: {}", path.display());
            }
        }
    }

    /// Removes every container and the network.
    pub async fn down(self) -> Result<(), StackError> {
        if self.reused {
            // Attached, not started here: there are no handles, only the label.
            return remove_by_label(Some(&self.name)).await.map(drop);
        }
        let mut first_error = None;
        for (service, container) in self.containers.into_iter().rev() {
            if let Err(e) = container.rm().await {
                first_error.get_or_insert(StackError::Teardown {
                    what: format!("the {service} container"),
                    detail: e.to_string(),
                });
            }
        }
        if let Err(e) = remove_network(&self.network).await {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn status_wait(port: u16) -> WaitFor {
    WaitFor::http(
        HttpWaitStrategy::new("/api/status")
            .with_port(port.tcp())
            .with_expected_status_code(200u16)
            .with_poll_interval(Duration::from_millis(250)),
    )
}

async fn start(
    config: &StackConfig,
    service: &str,
    image: &str,
    port: u16,
    wait: WaitFor,
    customise: impl FnOnce(
        testcontainers::ContainerRequest<GenericImage>,
    ) -> testcontainers::ContainerRequest<GenericImage>,
) -> Result<ContainerAsync<GenericImage>, StackError> {
    let (name, tag) = split_image(image);
    let request = GenericImage::new(name, tag)
        .with_exposed_port(port.tcp())
        .with_wait_for(wait)
        .with_network(config.network())
        .with_container_name(config.container(service))
        .with_label(LABEL, config.name.as_str())
        .with_startup_timeout(config.startup_timeout);
    let request = if config.keep {
        request.with_reuse(ReuseDirective::Always)
    } else {
        request
    };
    tracing::info!(service, image, "starting container");
    customise(request)
        .start()
        .await
        .map_err(|source| StackError::Start {
            service: service.to_owned(),
            image: image.to_owned(),
            source,
        })
}

async fn url_of(container: &ContainerAsync<GenericImage>, port: u16) -> Result<String, StackError> {
    let fail = |e: testcontainers::TestcontainersError| StackError::Teardown {
        what: "port lookup".to_owned(),
        detail: e.to_string(),
    };
    let host = container.get_host().await.map_err(fail)?;
    let mapped = container.get_host_port_ipv4(port).await.map_err(fail)?;
    Ok(format!("http://{host}:{mapped}"))
}

/// `name:tag`, where a registry host may carry its own `:port`.
fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(colon) => (
            image[..slash + colon].to_owned(),
            image[slash + colon + 1..].to_owned(),
        ),
        None => (image.to_owned(), "latest".to_owned()),
    }
}

async fn remove_network(name: &str) -> Result<(), StackError> {
    let docker = Docker::connect_with_defaults().map_err(|e| StackError::NoDocker {
        detail: e.to_string(),
    })?;
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        // Already gone: testcontainers removes the networks it created with the last container.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(StackError::Teardown {
            what: format!("network `{name}`"),
            detail: e.to_string(),
        }),
    }
}

/// Removes every container labelled as a hivecheck stack (all stacks, or the one named) and
/// their networks; returns the names removed. Nothing without the label is touched.
pub async fn remove_by_label(name: Option<&str>) -> Result<Vec<String>, StackError> {
    let docker = Docker::connect_with_defaults().map_err(|e| StackError::NoDocker {
        detail: e.to_string(),
    })?;
    let selector = match name {
        Some(name) => format!("{LABEL}={name}"),
        None => LABEL.to_owned(),
    };
    let filters: HashMap<&str, Vec<&str>> = HashMap::from([("label", vec![selector.as_str()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers =
        docker
            .list_containers(Some(options))
            .await
            .map_err(|e| StackError::Teardown {
                what: "the container list".to_owned(),
                detail: e.to_string(),
            })?;
    let mut removed = Vec::new();
    let mut stacks = std::collections::BTreeSet::new();
    for container in containers {
        let Some(id) = container.id else { continue };
        if let Some(stack) = container.labels.as_ref().and_then(|l| l.get(LABEL)) {
            stacks.insert(stack.clone());
        }
        let force = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        docker
            .remove_container(&id, Some(force))
            .await
            .map_err(|e| StackError::Teardown {
                what: format!("container {id}"),
                detail: e.to_string(),
            })?;
        let shown = container
            .names
            .and_then(|n| n.into_iter().next())
            .unwrap_or(id);
        removed.push(shown.trim_start_matches('/').to_owned());
    }
    for stack in stacks {
        remove_network(&format!("hivecheck-{stack}")).await?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_split_at_the_tag_not_the_registry_port() {
        assert_eq!(
            split_image("strangebee/thehive:5.7.5"),
            ("strangebee/thehive".into(), "5.7.5".into())
        );
        assert_eq!(
            split_image("registry:5000/x/y:1"),
            ("registry:5000/x/y".into(), "1".into())
        );
        assert_eq!(
            split_image("hivecheck-emulator"),
            ("hivecheck-emulator".into(), "latest".into())
        );
    }
}
