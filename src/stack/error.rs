//! [`StackError`]: what went wrong bringing the container stack up or down.

/// A failure of the container stack.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StackError {
    /// No Docker daemon answered.
    #[error("no Docker daemon answers")]
    NoDocker {
        /// What the Docker client said.
        detail: String,
    },
    /// A container did not start or never became ready.
    #[error("failed to start the {service} container (image `{image}`)")]
    Start {
        /// `thehive`, `cortex`, `cassandra` or `elasticsearch`.
        service: String,
        /// The image.
        image: String,
        /// What testcontainers said.
        #[source]
        source: testcontainers::TestcontainersError,
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
            StackError::NoDocker { .. } => {
                "start Docker, or set DOCKER_HOST; the emulator target needs no Docker"
            }
            StackError::Start { .. } => {
                "the image must exist locally when no registry is reachable; for the emulator \
                 image run docker/build-emulator-image.sh; the real stack needs about 8 GB of memory"
            }
            StackError::Bootstrap { .. } => {
                "the containers' logs above say more; the real Cortex also needs internet access \
                 for its analyzer catalog"
            }
            StackError::Teardown { .. } => {
                "remove what is left with `hivecheck stack down`, or `docker rm -f` on the containers \
                 labelled org.hivecheck.stack"
            }
        };
        Some(hint.to_owned())
    }
}
