//! Shared set-up for the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hivecheck::client::{Auth, Endpoint, Secret, TheHive};
use hivecheck::emulator::{Emulator, EmulatorConfig, Latency};
use hivecheck::runner::{
    self, RunContext, RunError, RunOptions, SnapshotMode, Target, TrialReport,
};
use hivecheck::scenario::{self, Scenario};

/// An emulator whose jobs and notifications take a few tens of milliseconds.
pub fn fast_config() -> EmulatorConfig {
    EmulatorConfig {
        job_latency: Latency {
            min: Duration::from_millis(40),
            max: Duration::from_millis(120),
        },
        refresh_delay: Duration::from_millis(30),
        notification_delay: Duration::from_millis(50),
        analyst_password: "analyst-sentinel-pw".to_owned(),
        ..EmulatorConfig::default()
    }
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start(config)
        .await
        .expect("the emulator starts on 127.0.0.1:0")
}

pub fn analyst(emulator: &Emulator) -> Auth {
    Auth::Session {
        login: emulator.config().analyst_login.clone(),
        password: Secret::new(emulator.config().analyst_password.clone()),
    }
}

pub fn admin(emulator: &Emulator) -> Auth {
    Auth::Session {
        login: emulator.config().admin_login.clone(),
        password: Secret::new(emulator.config().admin_password.clone()),
    }
}

pub fn endpoint(emulator: &Emulator) -> Endpoint {
    Endpoint::parse(&emulator.base_url()).unwrap()
}

pub fn target(emulator: &Emulator) -> Target {
    Target {
        endpoint: endpoint(emulator),
        org: Some(emulator.config().org.clone()),
        user: analyst(emulator),
        admin: Some(admin(emulator)),
        cortex: None,
        label: "test emulator".to_owned(),
        builtin: true,
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn context(target: Target, out: &Path) -> Arc<RunContext> {
    RunContext::new(
        target,
        RunOptions {
            seed_override: None,
            run_seed: 99,
            snapshots: SnapshotMode::Never,
            out_dir: out.to_owned(),
            fixtures_dir: root().join("fixtures"),
            keep: true,
            replace: false,
        },
    )
}

pub fn scenario(text: &str) -> Arc<Scenario> {
    Arc::new(scenario::load_str(Path::new("scenarios/test.toml"), text).expect("a valid scenario"))
}

pub async fn run(ctx: &Arc<RunContext>, scenario: &Arc<Scenario>) -> Result<TrialReport, RunError> {
    let pattern = scenario.analyzers[0].clone();
    runner::run_trial(
        ctx.clone(),
        scenario.clone(),
        pattern,
        scenario.name.clone(),
    )
    .await
}

pub async fn session(emulator: &Emulator, auth: &Auth) -> TheHive {
    TheHive::connect(
        &endpoint(emulator),
        auth,
        Some(&emulator.config().org),
        "test",
    )
    .await
    .unwrap()
}

/// A session reaching `emulator` through another base URL (a proxy in front of it).
pub async fn session_at(base: &str, emulator: &Emulator, auth: &Auth) -> TheHive {
    TheHive::connect(
        &Endpoint::parse(base).unwrap(),
        auth,
        Some(&emulator.config().org),
        "test",
    )
    .await
    .unwrap()
}

/// The `hivecheck` binary, run from the repository root, with every variable it reads from
/// the environment removed: a developer's own `THEHIVE_*` settings never reach a test.
pub fn hivecheck_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hivecheck"));
    command.current_dir(root()).env("NO_COLOR", "1");
    for var in [
        "THEHIVE_URL",
        "THEHIVE_ORG",
        "THEHIVE_ORGANIZATION",
        "THEHIVE_USER",
        "THEHIVE_PASSWORD",
        "THEHIVE_API_KEY",
        "THEHIVE_ADMIN_USER",
        "THEHIVE_ADMIN_PASSWORD",
        "THEHIVE_ADMIN_API_KEY",
        "THEHIVE_API",
        "CORTEX_ID",
        "HIVECHECK_PROFILE",
        "HIVECHECK_CONFIG",
        "HIVECHECK_LOG",
    ] {
        command.env_remove(var);
    }
    command
}

/// The emulator served over TLS with a certificate for 127.0.0.1 signed by a CA made for it;
/// the server stops when this is dropped.
pub struct TlsEmulator {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The CA's certificate, as a PEM file.
    pub ca_pem: PathBuf,
    /// The configuration served.
    pub config: EmulatorConfig,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts TCP connections on a free port and completes the TLS handshake before handing
/// them to axum; a client that refuses the certificate is dropped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

pub async fn start_tls(config: EmulatorConfig) -> TlsEmulator {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hivecheck test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", tcp.local_addr().unwrap());
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
    };
    let app = hivecheck::emulator::router(config.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TlsEmulator {
        url,
        ca_pem,
        config,
        _dir: dir,
        task,
    }
}
