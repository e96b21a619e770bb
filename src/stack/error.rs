//! [`StackError`]: what went wrong bringing the container stack up or down, with the exit
//! code and the hint each failure gets.

use std::path::PathBuf;
use std::time::Duration;

use crate::exit;

/// A failure of the container stack.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// The stack name cannot be part of a container or network name.
    #[error("stack name `{name}` is not usable in container names")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// No Docker daemon answered.
    #[error("no Docker daemon answers")]
    NoDocker {
        /// What the Docker client said.
        detail: String,
    },
    /// Docker refused to create or start a container (a missing image, a name in use).
    #[error("failed to start the {service} container (image `{image}`)")]
    Start {
        /// `thehive`, `cortex`, `cassandra` or `elasticsearch`.
        service: String,
        /// The image.
        image: String,
        /// What testcontainers said (boxed: it is large).
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    /// A container stopped before it was ready.
    #[error(
        "the {service} container (image `{image}`) exited with code {code} before it was ready"
    )]
    Exited {
        /// The service.
        service: String,
        /// The image.
        image: String,
        /// Its exit code.
        code: i64,
    },
    /// A container ran but never answered its readiness check.
    #[error(
        "the {service} container (image `{image}`) was not ready within {}",
        humantime::format_duration(*.waited)
    )]
    NotReady {
        /// The service.
        service: String,
        /// The image.
        image: String,
        /// How long it was given (`--startup-timeout`).
        waited: Duration,
    },
    /// A bootstrap call failed.
    #[error("failed to bootstrap {service}: {step}: {detail}")]
    Bootstrap {
        /// `cortex` or `thehive`.
        service: String,
        /// The step, e.g. `migrate the database`.
        step: String,
        /// The status and body, or the transport error.
        detail: String,
    },
    /// The kept stack's environment file could not be written.
    #[error("failed to write the stack's environment file `{}`", path.display())]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The real Cortex's job directory could not be created.
    #[error("failed to create the Cortex job directory `{}`", path.display())]
    JobDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// SIGINT or SIGTERM arrived while the stack was coming up; what had started was removed.
    #[error(
        "interrupted by {signal} while stack `{name}` was coming up; its containers were removed"
    )]
    Interrupted {
        /// `SIGINT` or `SIGTERM`.
        signal: String,
        /// The stack.
        name: String,
    },
    /// Removing containers or the network failed.
    #[error("failed to remove {what}: {detail}")]
    Teardown {
        /// What was being removed.
        what: String,
        /// Why.
        detail: String,
    },
}

impl StackError {
    /// What to try.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            StackError::InvalidName { .. } => {
                "use letters, digits, `_`, `.` and `-`, starting with a letter or a digit"
                    .to_owned()
            }
            StackError::NoDocker { .. } => {
                "start Docker, or set DOCKER_HOST; the emulator target needs no Docker".to_owned()
            }
            StackError::Start { .. } => {
                "the image must exist locally when no registry is reachable, and for the \
                 emulator image docker/build-emulator-image.sh builds it; a container of the \
                 same name may be left from an earlier stack: `hivecheck stack down \
                 --stack-name NAME` removes it"
                    .to_owned()
            }
            StackError::Exited { .. } => {
                "the container's log above says why; the real stack also needs about 8 GB of \
                 memory"
                    .to_owned()
            }
            StackError::NotReady { .. } => {
                "the container's log above says what it was doing; a first start of the real \
                 TheHive can take minutes (raise --startup-timeout), and the real stack needs \
                 about 8 GB of memory"
                    .to_owned()
            }
            StackError::Bootstrap { .. } => {
                "the containers' logs above say more; the real Cortex also needs internet access \
                 for its analyzer catalog"
                    .to_owned()
            }
            StackError::EnvFile { .. } => {
                "the stack was removed again; check that hivecheck-out/stacks/ is writable"
                    .to_owned()
            }
            StackError::JobDir { .. } => {
                "Cortex shares analyzer files with the Docker daemon through this directory of \
                 the temporary directory (TMPDIR), which must be writable"
                    .to_owned()
            }
            StackError::Interrupted { name, .. } => format!(
                "if a second signal cut the clean-up short, `hivecheck stack down --stack-name \
                 {name}` removes what is left"
            ),
            StackError::Teardown { .. } => {
                "remove what is left with `hivecheck stack down`, or `docker rm -f` on the \
                 containers labelled org.hivecheck.stack"
                    .to_owned()
            }
        };
        Some(hint)
    }

    /// The process exit code for this failure: bad usage, an interruption, or the stack's own.
    pub fn exit_code(&self) -> u8 {
        match self {
            StackError::InvalidName { .. } => exit::USAGE,
            StackError::Interrupted { .. } => exit::INTERRUPTED,
            _ => exit::STACK,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_fragments_with_their_own_hints_and_codes() {
        let not_ready = StackError::NotReady {
            service: "thehive".to_owned(),
            image: "strangebee/thehive:5.7.5".to_owned(),
            waited: Duration::from_secs(90),
        };
        let exited = StackError::Exited {
            service: "cortex".to_owned(),
            image: "x:1".to_owned(),
            code: 2,
        };
        let invalid = StackError::InvalidName {
            name: "a b".to_owned(),
        };
        let interrupted = StackError::Interrupted {
            signal: "SIGTERM".to_owned(),
            name: "default".to_owned(),
        };

        assert_eq!(
            not_ready.to_string(),
            "the thehive container (image `strangebee/thehive:5.7.5`) was not ready within 1m 30s"
        );
        assert_eq!(
            exited.to_string(),
            "the cortex container (image `x:1`) exited with code 2 before it was ready"
        );
        assert!(not_ready.hint().unwrap().contains("--startup-timeout"));
        assert!(!exited.hint().unwrap().contains("must exist locally"));
        assert_eq!(
            (
                invalid.exit_code(),
                interrupted.exit_code(),
                exited.exit_code()
            ),
            (exit::USAGE, exit::INTERRUPTED, exit::STACK)
        );
        assert!(interrupted.hint().unwrap().contains("--stack-name default"));
    }
}
