//! TheHive's HTTP API as hivecheck uses it.
//!
//! [`TheHive`] is one authenticated session against one organisation: the runbook keeps two of
//! them, an admin one for organisation configuration and a user one for observables and jobs.
//! The client speaks what the real servers speak (see `shared/reference/thehive-api.md`): the
//! `X-Organisation` header, `{type, message}` error bodies turned into [`ClientError`], and the
//! v0 paths of TheHive 4. It knows nothing of scenarios or reports; the runner decides what a
//! response means for a test.

mod error;
mod secret;
mod session;
mod wire;

pub use error::{ApiErrorBody, ClientError};
pub use secret::{REDACTED, Secret, redact_text, register as register_secret};
pub use session::{
    ApiVersion, Auth, Endpoint, ORG_HEADER, ORG_HEADER_RUNBOOK, RawResponse, TheHive, read_ca_certs,
};
pub use wire::{
    Analyzer, Case, CreateFailure, CreatedObservables, Job, JobStatus, NewCase, NewJob,
    NewObservable, Observable, ObservableReport, Status, Taxonomy,
};
