//! A throw-away TheHive + Cortex stack in containers (testcontainers), bootstrapped so the
//! scenarios can run against it.
//!
//! [`Stack::up`] creates a private network, starts the pieces of StrangeBee's testing stack
//! (Cassandra, Elasticsearch, Cortex, TheHive 5; image names and tags overridable), waits for
//! `/api/status`, and bootstraps both: Cortex (migrate, superadmin, organisation, org user with
//! `analyze` and `orgadmin`, its renewed API key, the analyzer enabled with its configuration)
//! then TheHive (organisation, user, API key, and the Cortex server registered as `cortex0`).
//! With [`Images::emulator`], the hivecheck emulator image plays TheHive and Cortex in two
//! containers and Cassandra/Elasticsearch are not needed. Container logs are kept and shown
//! when something fails; [`Stack::down`] removes every container and the network. A kept
//! stack leaves an environment file behind, through which `--reuse` attaches to it later.

mod bootstrap;
mod containers;
mod error;
mod kept;

pub use bootstrap::{Credentials, cortex, thehive};
pub use containers::{Images, Stack, StackConfig, docker_available, remove_by_label};
pub use error::StackError;
pub use kept::env_path;
