//! A throw-away TheHive + Cortex stack in containers (testcontainers), bootstrapped so the
//! scenarios can run against it.
//!
//! [`Stack::up`] creates a private network, starts the pieces of StrangeBee's testing stack
//! (Cassandra, Elasticsearch, then Cortex and TheHive 5 together; image names and tags
//! overridable), waits for `/api/status`, and bootstraps both: Cortex (migrate, superadmin,
//! organisation, org user with `analyze` and `orgadmin`, its renewed API key, the requested
//! analyzers its catalog has, enabled with their configuration) then TheHive (organisation,
//! users, API keys, and the Cortex server registered over TheHive's API as `cortex0`, then
//! confirmed under that name). With [`Images::emulator`], the hivecheck emulator image plays
//! TheHive and Cortex in two containers and Cassandra/Elasticsearch are not needed. Container
//! logs are kept from the first line and shown when something fails, a container that exits
//! fails at once, and a failed or interrupted bring-up removes everything it started;
//! [`Stack::down`] removes every container and the network. A kept stack leaves an
//! environment file behind, through which `--reuse` attaches to it later.

mod bootstrap;
mod containers;
mod error;
mod kept;

pub use bootstrap::{
    CORTEX_NAME, CortexRegistration, CortexSetup, Credentials, ORG, cortex, thehive,
};
pub use containers::{
    CASSANDRA_IMAGE, CORTEX_IMAGE, DEFAULT_ANALYZERS, ELASTICSEARCH_IMAGE, ENV_FILE_LABEL, Images,
    LABEL, Removed, Stack, StackConfig, THEHIVE_IMAGE, docker_available, remove_by_label,
    validate_name,
};
pub use error::StackError;
pub use kept::{default_dir as default_env_dir, env_path};
