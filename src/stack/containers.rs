//! Starting, waiting for and removing the stack's containers.
//!
//! Containers are created with testcontainers and waited for here: each one's output goes to a
//! buffer from its first line, readiness is polled by this module (HTTP status or a log line)
//! while the container's state is watched, so a container that exits fails at once with its
//! exit code and its log, and one that never answers fails after `--startup-timeout` with its
//! log still there. Whatever went wrong, and on SIGINT or SIGTERM during the bring-up, every
//! container and the network are removed before [`Stack::up`] returns.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use testcontainers::core::logs::LogFrame;
use testcontainers::core::{IntoContainerPort, Mount};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};

use super::bootstrap::{self, CortexRegistration, Credentials};
use super::error::StackError;
use super::kept;
use crate::client::Secret;

/// The label every container of a stack carries, valued with the stack's name.
pub const LABEL: &str = "org.hivecheck.stack";

/// The label of a kept stack's containers that holds the absolute path of its environment
/// file, so `--reuse` and `stack down` find it whatever the working directory or `--out`.
pub const ENV_FILE_LABEL: &str = "org.hivecheck.env-file";

/// TheHive's default image (StrangeBeeCorp/docker 0293639 `versions.env`).
pub const THEHIVE_IMAGE: &str = "strangebee/thehive:5.7.5";
/// Cortex's default image.
pub const CORTEX_IMAGE: &str = "thehiveproject/cortex:4.1.0";
/// Cassandra's default image.
pub const CASSANDRA_IMAGE: &str = "cassandra:4.1.12";
/// Elasticsearch's default image.
pub const ELASTICSEARCH_IMAGE: &str = "elasticsearch:8.19.20";

/// The analyzers enabled when none is named: the runbook's AbuseIPDB 1.0 and the catalog's
/// current 2.0 (reference §9).
pub const DEFAULT_ANALYZERS: [&str; 2] = ["AbuseIPDB_1_0", "AbuseIPDB_2_0"];

/// The Docker socket the real Cortex runs analyzer containers through.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The images of a stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    /// TheHive ([`THEHIVE_IMAGE`]).
    pub thehive: String,
    /// Cortex ([`CORTEX_IMAGE`]).
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
    /// StrangeBee's testing stack versions.
    pub fn real() -> Self {
        Images {
            thehive: THEHIVE_IMAGE.to_owned(),
            cortex: CORTEX_IMAGE.to_owned(),
            cassandra: CASSANDRA_IMAGE.to_owned(),
            elasticsearch: ELASTICSEARCH_IMAGE.to_owned(),
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
    /// Leave the containers running for later (`stack up`, `--keep`, `--reuse`): the stack
    /// writes an environment file, and the caller must not run [`Stack::down`].
    pub keep: bool,
    /// The analyzers to enable in Cortex.
    pub analyzers: Vec<String>,
    /// Whether every analyzer of `analyzers` must exist and be enabled (they were named on
    /// the command line); otherwise the missing ones are skipped with a warning.
    pub analyzers_required: bool,
    /// The analyzer's API key (AbuseIPDB's), from the environment.
    pub analyzer_key: Option<Secret>,
    /// How long a container may take to become ready.
    pub startup_timeout: Duration,
    /// Where container logs are written when something fails.
    pub log_dir: Option<PathBuf>,
    /// Attach to the kept stack of this name when it still runs (`--reuse`); otherwise bring
    /// it up, replacing what is left of it, and keep it.
    pub reuse: bool,
    /// Where a kept stack's environment file goes (`<name>.env`), [`kept::default_dir`]
    /// unless a caller chooses another place.
    pub env_dir: PathBuf,
}

impl StackConfig {
    /// A stack of `images` named `name`, with the defaults for the rest.
    pub fn new(name: &str, images: Images) -> Self {
        StackConfig {
            name: name.to_owned(),
            images,
            keep: false,
            analyzers: DEFAULT_ANALYZERS.map(str::to_owned).to_vec(),
            analyzers_required: false,
            analyzer_key: std::env::var("ABUSEIPDB_KEY").ok().map(Secret::new),
            startup_timeout: Duration::from_secs(300),
            log_dir: None,
            reuse: false,
            env_dir: kept::default_dir(),
        }
    }

    fn network(&self) -> String {
        network_of(&self.name)
    }

    fn container(&self, service: &str) -> String {
        format!("hivecheck-{}-{service}", self.name)
    }

    /// The environment file this stack writes when kept, as an absolute path.
    fn env_file(&self) -> PathBuf {
        let path = kept::env_path(&self.env_dir, &self.name);
        std::path::absolute(&path).unwrap_or(path)
    }
}

fn network_of(name: &str) -> String {
    format!("hivecheck-{name}")
}

/// Checks that `name` can be part of container and network names (`[A-Za-z0-9][A-Za-z0-9_.-]*`,
/// Docker's rule), so a bad `--stack-name` fails before anything is started.
pub fn validate_name(name: &str) -> Result<(), StackError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && name.len() <= 100 {
        Ok(())
    } else {
        Err(StackError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// A container's output as it is produced, stdout and stderr interleaved.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn consumer(&self) -> impl Fn(&LogFrame) + Send + Sync + 'static {
        let buffer = Arc::clone(&self.0);
        move |frame: &LogFrame| {
            buffer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend_from_slice(frame.bytes());
        }
    }

    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// What tells that a container is ready.
#[derive(Debug, Clone, Copy)]
enum Ready {
    /// `GET <path>` on this container port answers 200.
    Http(u16, &'static str),
    /// This text appears in the output.
    Message(&'static str),
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
    /// The analyzers enabled in Cortex (empty for a reused stack).
    pub analyzers: Vec<String>,
    /// The analyzers asked for that Cortex's catalog did not have.
    pub missing_analyzers: Vec<String>,
    /// Whether this is a kept stack found running, not one started now.
    pub reused: bool,
    /// The environment file of a kept stack.
    pub env_file: Option<PathBuf>,
    containers: Vec<(String, ContainerAsync<GenericImage>)>,
    logs: Vec<(String, LogBuffer)>,
    network: String,
    job_dir: Option<PathBuf>,
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
    docker()?
        .ping()
        .await
        .map(|_| ())
        .map_err(|e| StackError::NoDocker {
            detail: e.to_string(),
        })
}

fn docker() -> Result<Docker, StackError> {
    Docker::connect_with_defaults().map_err(|e| StackError::NoDocker {
        detail: e.to_string(),
    })
}

impl Stack {
    fn empty(config: &StackConfig) -> Self {
        Stack {
            name: config.name.clone(),
            thehive_url: String::new(),
            cortex_url: String::new(),
            credentials: Credentials::default(),
            analyzers: Vec::new(),
            missing_analyzers: Vec::new(),
            reused: false,
            env_file: None,
            containers: Vec::new(),
            logs: Vec::new(),
            network: config.network(),
            job_dir: None,
        }
    }

    /// Starts the containers on a private network, waits for them, and bootstraps them.
    ///
    /// On any failure the containers' logs are printed to stderr (and written to `log_dir`),
    /// and every container of the stack and its network are removed, `keep` or not. SIGINT or
    /// SIGTERM during the bring-up removes them too and gives [`StackError::Interrupted`].
    ///
    /// With `reuse`, a kept stack of the same name that still runs is attached to instead
    /// (nothing is started or bootstrapped); a kept stack that cannot be reused is replaced.
    /// A kept stack's environment file is (re)written.
    pub async fn up(config: StackConfig) -> Result<Stack, StackError> {
        validate_name(&config.name)?;
        docker_available().await?;
        if config.reuse {
            match Stack::attach(&config).await {
                Ok(stack) => return Ok(stack),
                Err(reason) => {
                    let removed = remove_by_label(Some(&config.name), &config.env_dir).await?;
                    if !removed.containers.is_empty() {
                        tracing::warn!(
                            stack = %config.name,
                            %reason,
                            "the kept stack cannot be reused; replacing it"
                        );
                    }
                }
            }
        }

        let mut stack = Stack::empty(&config);
        let outcome = tokio::select! {
            outcome = stack.start_all(&config) => outcome,
            signal = next_signal() => Err(StackError::Interrupted {
                signal: signal.to_owned(),
                name: config.name.clone(),
            }),
        };
        let outcome = match outcome {
            Ok(()) if config.keep => stack.write_env_file(&config),
            other => other,
        };
        match outcome {
            Ok(()) => Ok(stack),
            Err(error) => {
                if matches!(error, StackError::Interrupted { .. }) {
                    exit_on_second_signal();
                    // A Docker call cut short by the signal may still create its container;
                    // a moment's wait lets the removal below see it.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                } else {
                    stack.dump_logs(&config);
                }
                if let Err(teardown) = stack.down().await {
                    tracing::warn!(
                        error = %crate::runner::render(&teardown, teardown.hint()),
                        "the failed stack was not removed completely"
                    );
                }
                Err(error)
            }
        }
    }

    /// The kept stack named in `config`, from its environment file, when its containers run
    /// and TheHive answers; `Err` says why it cannot be reused.
    async fn attach(config: &StackConfig) -> Result<Stack, String> {
        let labelled = kept::running(&config.name).await?;
        let path = labelled.unwrap_or_else(|| config.env_file());
        if !path.exists() {
            return Err(format!("no {}", path.display()));
        }
        let kept = kept::read(&path)?;
        kept::answers(&kept.thehive_url).await?;
        Ok(Stack {
            thehive_url: kept.thehive_url,
            cortex_url: kept.cortex_url,
            credentials: kept.credentials,
            reused: true,
            env_file: Some(path),
            ..Stack::empty(config)
        })
    }

    fn write_env_file(&mut self, config: &StackConfig) -> Result<(), StackError> {
        let path = config.env_file();
        kept::write(&path, self).map_err(|source| StackError::EnvFile {
            path: path.clone(),
            source,
        })?;
        self.env_file = Some(path);
        Ok(())
    }

    /// A log buffer for `service`, kept with the stack whether or not its container starts.
    fn log_buffer(&mut self, service: &str) -> LogBuffer {
        let buffer = LogBuffer::default();
        self.logs.push((service.to_owned(), buffer.clone()));
        buffer
    }

    fn container(&self, service: &str) -> &ContainerAsync<GenericImage> {
        self.containers
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, c)| c)
            .expect("a service is waited for only once it is launched")
    }

    fn logs_of(&self, service: &str) -> LogBuffer {
        self.logs
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }

    /// Waits for `service` (launched) to be ready.
    async fn ready(
        &self,
        config: &StackConfig,
        service: &str,
        image: &str,
        ready: Ready,
    ) -> Result<(), StackError> {
        wait_ready(
            service,
            image,
            self.container(service),
            &self.logs_of(service),
            ready,
            config.startup_timeout,
        )
        .await
    }

    async fn start_all(&mut self, config: &StackConfig) -> Result<(), StackError> {
        let images = &config.images;
        if !images.emulator {
            let es_logs = self.log_buffer("elasticsearch");
            let cassandra_logs = self.log_buffer("cassandra");
            let elasticsearch = launch(
                config,
                "elasticsearch",
                &images.elasticsearch,
                9200,
                &es_logs,
                |request| {
                    request
                        .with_env_var("discovery.type", "single-node")
                        .with_env_var("xpack.security.enabled", "false")
                        .with_env_var("ES_JAVA_OPTS", "-Xms1g -Xmx1g")
                },
            );
            let cassandra = launch(
                config,
                "cassandra",
                &images.cassandra,
                9042,
                &cassandra_logs,
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
            tokio::try_join!(
                self.ready(
                    config,
                    "elasticsearch",
                    &images.elasticsearch,
                    Ready::Http(9200, "/_cluster/health"),
                ),
                self.ready(
                    config,
                    "cassandra",
                    &images.cassandra,
                    Ready::Message("Starting listening for CQL clients"),
                ),
            )?;
        }

        // TheHive no longer needs Cortex's key to start (the bootstrap registers Cortex over
        // TheHive's API), so both start and warm up together.
        if !images.emulator {
            self.job_dir = Some(job_dir(config)?);
        }
        let cortex_logs = self.log_buffer("cortex");
        let thehive_logs = self.log_buffer("thehive");
        let cortex = launch(
            config,
            "cortex",
            &images.cortex,
            9001,
            &cortex_logs,
            |request| cortex_request(request, config, self.job_dir.as_deref()),
        );
        let thehive = launch(
            config,
            "thehive",
            &images.thehive,
            9000,
            &thehive_logs,
            |request| thehive_request(request, config),
        );
        let (cortex, thehive) = tokio::try_join!(cortex, thehive)?;
        self.containers.push(("cortex".to_owned(), cortex));
        self.containers.push(("thehive".to_owned(), thehive));
        tokio::try_join!(
            self.ready(
                config,
                "cortex",
                &images.cortex,
                Ready::Http(9001, "/api/status")
            ),
            self.ready(
                config,
                "thehive",
                &images.thehive,
                Ready::Http(9000, "/api/status")
            ),
        )?;
        self.cortex_url = url_of(self.container("cortex"), 9001).await?;
        self.thehive_url = url_of(self.container("thehive"), 9000).await?;

        let setup = bootstrap::cortex(&self.cortex_url, config).await?;
        self.analyzers = setup.enabled;
        self.missing_analyzers = setup.missing;
        let registration = CortexRegistration {
            url: format!("http://{}:9001", config.container("cortex")),
            key: setup.key,
        };
        self.credentials = bootstrap::thehive(&self.thehive_url, &registration).await?;
        Ok(())
    }

    /// The containers' output, newest last, `lines` lines each at most, with known secrets
    /// and the emulator banner's credentials redacted.
    pub fn logs(&self, lines: usize) -> String {
        let mut text = String::new();
        for (service, buffer) in &self.logs {
            let output = redact_log(&buffer.text());
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

    fn dump_logs(&self, config: &StackConfig) {
        // A container that never started (a missing image) has nothing to show.
        if self.logs.iter().all(|(_, buffer)| buffer.text().is_empty()) {
            return;
        }
        eprintln!("{}", self.logs(80));
        if let Some(dir) = &config.log_dir {
            let path = dir.join(format!("stack-{}.log", config.name));
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, self.logs(usize::MAX)));
            match written {
                Ok(()) => eprintln!("container logs: {}", path.display()),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "container logs not saved");
                }
            }
        }
    }

    /// Removes every container of the stack and its network, and its environment file and
    /// job directory.
    pub async fn down(self) -> Result<(), StackError> {
        let env_dir = self
            .env_file
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(kept::default_dir, Path::to_owned);
        if self.reused {
            // Attached, not started here: there are no handles, only the label.
            return remove_by_label(Some(&self.name), &env_dir).await.map(drop);
        }

        // Containers created without a handle (a launch cut short) go first, so that the
        // network is free when the last handle's removal lets testcontainers drop it.
        let owned: Vec<String> = self
            .containers
            .iter()
            .map(|(_, c)| c.id().to_owned())
            .collect();
        let mut first_error = remove_labelled(Some(&self.name), &owned).await.err();
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
        if let Some(path) = &self.env_file {
            kept::forget(path);
        }
        forget_job_dir(&self.name);
        first_error.map_or(Ok(()), Err)
    }
}

/// The Cortex container: the emulator's `cortex` role, or the real image with Elasticsearch,
/// Basic authentication for the bootstrap, and what it needs to run analyzers as containers.
fn cortex_request(
    request: ContainerRequest<GenericImage>,
    config: &StackConfig,
    job_dir: Option<&Path>,
) -> ContainerRequest<GenericImage> {
    if config.images.emulator {
        return emulator_logging(request).with_cmd([
            "--role",
            "cortex",
            "--bind",
            "0.0.0.0:9001",
            "--cortex-basic-auth",
        ]);
    }
    // Basic authentication is off by default in Cortex; the bootstrap needs it (as StrangeBee's
    // init script enables it). Play reads `-D` overrides.
    let mut request = request
        .with_env_var(
            "es_uri",
            format!("http://{}:9200", config.container("elasticsearch")),
        )
        .with_env_var("JAVA_OPTS", "-Xms1000M -Xmx1000M -Dauth.method.basic=true");
    // Cortex runs each analyzer as a container through the host's Docker and shares the job's
    // files by path, so the job directory has the same path inside and out (StrangeBeeCorp/docker
    // 0293639 `testing/docker-compose.yml`: `job_directory`, `docker_job_directory` and the
    // socket mount).
    if let Some(dir) = job_dir {
        let dir = dir.to_string_lossy().into_owned();
        request = request
            .with_env_var("job_directory", dir.as_str())
            .with_env_var("docker_job_directory", dir.as_str())
            .with_mount(Mount::bind_mount(dir.as_str(), dir.as_str()));
    }
    if Path::new(DOCKER_SOCKET).exists() {
        request = request.with_mount(Mount::bind_mount(DOCKER_SOCKET, DOCKER_SOCKET));
    } else {
        tracing::warn!(
            socket = DOCKER_SOCKET,
            "no Docker socket to mount: the real Cortex will not run analyzers"
        );
    }
    request
}

/// The TheHive container: the emulator's `thehive` role with the TheHive 5 profile, or the real
/// image on Cassandra and Elasticsearch. Neither gets a Cortex key or a secret on its command
/// line (`docker inspect` shows it): the real entrypoint makes up its own Play secret when none
/// is given, and the bootstrap registers Cortex over the API.
fn thehive_request(
    request: ContainerRequest<GenericImage>,
    config: &StackConfig,
) -> ContainerRequest<GenericImage> {
    if config.images.emulator {
        return emulator_logging(request).with_cmd([
            "--role",
            "thehive",
            "--profile",
            "thehive5",
            "--bind",
            "0.0.0.0:9000",
        ]);
    }
    // `--cortex-hostnames` without keys keeps the entrypoint's Cortex connector configured
    // (its servers `cortex0`, … come from these names, reference §10 [I] for TheHive 5); the
    // bootstrap's `PUT /api/v1/admin/config/cortex` then replaces them with `cortex0` and its
    // key, and checks the name.
    request
        .with_cmd([
            "--cql-hostnames".to_owned(),
            config.container("cassandra"),
            "--index-backend".to_owned(),
            "elasticsearch".to_owned(),
            "--es-hostnames".to_owned(),
            config.container("elasticsearch"),
            "--cortex-hostnames".to_owned(),
            config.container("cortex"),
        ])
        .with_env_var("JAVA_OPTS", "-Xms1280M -Xmx1280M")
}

/// The emulator's informational lines (such as a Cortex configuration update) go to the
/// container log, which a failure prints.
fn emulator_logging(request: ContainerRequest<GenericImage>) -> ContainerRequest<GenericImage> {
    request.with_env_var("HIVECHECK_LOG", "info")
}

/// Creates and starts one container, its output going to `logs` from the first line; does not
/// wait for it to be ready.
async fn launch(
    config: &StackConfig,
    service: &str,
    image: &str,
    port: u16,
    logs: &LogBuffer,
    customise: impl FnOnce(ContainerRequest<GenericImage>) -> ContainerRequest<GenericImage>,
) -> Result<ContainerAsync<GenericImage>, StackError> {
    let (name, tag) = split_image(image);
    let mut request = GenericImage::new(name, tag)
        .with_exposed_port(port.tcp())
        .with_network(config.network())
        .with_container_name(config.container(service))
        .with_label(LABEL, config.name.as_str())
        .with_startup_timeout(config.startup_timeout)
        .with_log_consumer(logs.consumer());
    if config.keep {
        request = request.with_label(ENV_FILE_LABEL, config.env_file().to_string_lossy());
    }
    tracing::info!(service, image, "starting container");
    customise(request)
        .start()
        .await
        .map_err(|source| StackError::Start {
            service: service.to_owned(),
            image: image.to_owned(),
            source: Box::new(source),
        })
}

/// Polls `ready` until it holds, the container exits, or `timeout` passes.
async fn wait_ready(
    service: &str,
    image: &str,
    container: &ContainerAsync<GenericImage>,
    logs: &LogBuffer,
    ready: Ready,
    timeout: Duration,
) -> Result<(), StackError> {
    let deadline = Instant::now() + timeout;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("a default HTTP client builds");
    loop {
        let is_ready = match ready {
            Ready::Http(port, path) => match url_of(container, port).await {
                Ok(base) => http
                    .get(format!("{base}{path}"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().as_u16() == 200),
                // No port mapping yet, or no longer: the state check below tells which.
                Err(_) => false,
            },
            Ready::Message(message) => logs.text().contains(message),
        };
        if is_ready {
            tracing::info!(service, "container ready");
            return Ok(());
        }
        // A state that cannot be read is retried until the deadline.
        if container.is_running().await.is_ok_and(|running| !running) {
            let code = container.exit_code().await.ok().flatten().unwrap_or(-1);
            // The log consumer may still be delivering the last lines.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return Err(StackError::Exited {
                service: service.to_owned(),
                image: image.to_owned(),
                code,
            });
        }
        if Instant::now() >= deadline {
            return Err(StackError::NotReady {
                service: service.to_owned(),
                image: image.to_owned(),
                waited: timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn url_of(container: &ContainerAsync<GenericImage>, port: u16) -> Result<String, StackError> {
    let fail = |e: testcontainers::TestcontainersError| StackError::Teardown {
        what: "port lookup".to_owned(),
        detail: e.to_string(),
    };
    let host = container.get_host().await.map_err(fail)?;
    let mapped = container.get_host_port_ipv4(port).await.map_err(fail)?;
    // The port looked up is the IPv4 one; `localhost` may resolve to `::1` first, where
    // Docker maps the container port to another host port (or none).
    let host = match host.to_string().as_str() {
        "localhost" => "127.0.0.1".to_owned(),
        other => other.to_owned(),
    };
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

/// The real Cortex's job directory on this host, `<tmp>/hivecheck-<name>-cortex-jobs`, created
/// writable for the Cortex user and the analyzer containers (their users are not ours).
fn job_dir(config: &StackConfig) -> Result<PathBuf, StackError> {
    let dir = job_dir_of(&config.name);
    let created = std::fs::create_dir_all(&dir).and_then(|()| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
        }
        Ok(())
    });
    created.map_err(|source| StackError::JobDir {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

fn job_dir_of(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hivecheck-{name}-cortex-jobs"))
}

/// Deletes stack `name`'s job directory; files an analyzer container left there as another
/// user may keep it, which only costs disk space in the temporary directory.
fn forget_job_dir(name: &str) {
    let dir = job_dir_of(name);
    if dir.exists()
        && let Err(error) = std::fs::remove_dir_all(&dir)
    {
        tracing::debug!(dir = %dir.display(), %error, "Cortex job directory not removed");
    }
}

/// Redacts a container's output: registered secrets and credential fields, and the passwords
/// and keys the emulator's start banner prints for a human to connect with.
fn redact_log(text: &str) -> String {
    static BANNER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let banner = BANNER.get_or_init(|| {
        regex::Regex::new(r"(?m)((?:password|API key:)\s+)\S+")
            .expect("the banner pattern is valid")
    });
    let text = crate::client::redact_text(text);
    banner
        .replace_all(&text, |caps: &regex::Captures<'_>| {
            format!("{}{}", &caps[1], crate::client::REDACTED)
        })
        .into_owned()
}

async fn remove_network(name: &str) -> Result<(), StackError> {
    match docker()?.remove_network(name).await {
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

/// What [`remove_by_label`] removed.
#[derive(Debug, Default)]
pub struct Removed {
    /// The containers' names.
    pub containers: Vec<String>,
    /// The environment files deleted.
    pub env_files: Vec<PathBuf>,
}

/// A labelled container as listed: id, name, stack, environment file label.
struct Listed {
    id: String,
    name: String,
    stack: Option<String>,
    env_file: Option<PathBuf>,
}

async fn list_labelled(name: Option<&str>) -> Result<Vec<Listed>, StackError> {
    let selector = match name {
        Some(name) => format!("{LABEL}={name}"),
        None => LABEL.to_owned(),
    };
    let filters: HashMap<&str, Vec<&str>> = HashMap::from([("label", vec![selector.as_str()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker()?
        .list_containers(Some(options))
        .await
        .map_err(|e| StackError::Teardown {
            what: "the container list".to_owned(),
            detail: e.to_string(),
        })?;
    Ok(containers
        .into_iter()
        .filter_map(|c| {
            let id = c.id?;
            let labels = c.labels.unwrap_or_default();
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .map_or_else(|| id.clone(), |n| n.trim_start_matches('/').to_owned());
            Some(Listed {
                id,
                name,
                stack: labels.get(LABEL).cloned(),
                env_file: labels.get(ENV_FILE_LABEL).map(PathBuf::from),
            })
        })
        .collect())
}

/// Force-removes the labelled containers (of stack `name`, or of every stack) except those of
/// `except`; returns what was removed.
async fn remove_labelled(name: Option<&str>, except: &[String]) -> Result<Vec<Listed>, StackError> {
    let docker = docker()?;
    let mut removed = Vec::new();
    for container in list_labelled(name).await? {
        if except.contains(&container.id) {
            continue;
        }
        let force = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&container.id, Some(force)).await {
            // Gone meanwhile (its own clean-up got there first): that is the goal.
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => removed.push(container),
            Err(e) => {
                return Err(StackError::Teardown {
                    what: format!("container `{}`", container.name),
                    detail: e.to_string(),
                });
            }
        }
    }
    Ok(removed)
}

/// Removes every container labelled as a hivecheck stack (all stacks, or the one named), their
/// networks and Cortex job directories, and their environment files: where their label says,
/// and under `env_dir`. Nothing without the label is touched.
pub async fn remove_by_label(name: Option<&str>, env_dir: &Path) -> Result<Removed, StackError> {
    let removed = remove_labelled(name, &[]).await?;
    let mut stacks: std::collections::BTreeSet<String> =
        removed.iter().filter_map(|c| c.stack.clone()).collect();
    stacks.extend(name.map(str::to_owned));
    for stack in &stacks {
        remove_network(&network_of(stack)).await?;
        forget_job_dir(stack);
    }

    let mut files: Vec<PathBuf> = removed.iter().filter_map(|c| c.env_file.clone()).collect();
    match name {
        Some(name) => files.push(kept::env_path(env_dir, name)),
        None => files.extend(kept::env_files(env_dir)),
    }
    files.sort();
    files.dedup();
    Ok(Removed {
        containers: removed.into_iter().map(|c| c.name).collect(),
        env_files: files.into_iter().filter(|f| kept::forget(f)).collect(),
    })
}

/// The first SIGINT or SIGTERM, by name.
async fn next_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
    }
    // Without a handler the signal keeps its default effect, which also ends the bring-up.
    match tokio::signal::ctrl_c().await {
        Ok(()) => "SIGINT",
        Err(_) => std::future::pending().await,
    }
}

/// While an interrupted bring-up cleans up, a second signal ends the process at once.
fn exit_on_second_signal() {
    tokio::spawn(async {
        let signal = next_signal().await;
        eprintln!(
            "error: {signal} received again: exiting now; `hivecheck stack down` removes what is left"
        );
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    });
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

    #[test]
    fn stack_names_follow_docker_container_naming() {
        for good in ["default", "run-1a2b", "A.b_c-9"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a b", "a/b", "ünï", ".hidden"] {
            assert!(
                matches!(validate_name(bad), Err(StackError::InvalidName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn container_logs_hide_the_emulator_banner_credentials() {
        let banner = "hivecheck emulator (TheHive 5.7.5-1, Cortex over HTTP) listening on x\n  \
                      analyst:         analyst@thehive.local / password Wq8banner1\n  \
                      analyst API key: Zk2bannerkey\n  \
                      admin:           admin@thehive.local / password secret (organisation admin)\n";

        let out = redact_log(banner);

        assert!(!out.contains("Wq8banner1"), "{out}");
        assert!(!out.contains("Zk2bannerkey"), "{out}");
        assert!(!out.contains("password secret"), "{out}");
        assert!(out.contains("analyst@thehive.local"), "{out}");
    }

    #[test]
    fn the_default_images_are_strangebees_testing_stack() {
        let images = Images::real();

        assert_eq!(images.thehive, THEHIVE_IMAGE);
        assert_eq!(images.cortex, "thehiveproject/cortex:4.1.0");
        assert!(!images.emulator);
        assert_eq!(Images::emulator("e:1").cassandra, CASSANDRA_IMAGE);
    }
}
