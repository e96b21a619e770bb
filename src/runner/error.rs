//! [`RunError`]: a scenario that could not be carried out, as opposed to one whose
//! expectations were not met (those are results, see [`super::TrialReport`]).

use std::sync::Arc;

use crate::client::ClientError;

/// Why a trial could not run to its end.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A session could not be opened (wrong password, unreachable server, unknown org).
    #[error("failed to open the {role} session on `{base}`")]
    Session {
        /// `user` or `admin`.
        role: String,
        /// The base URL.
        base: String,
        /// What TheHive answered.
        #[source]
        source: Arc<ClientError>,
    },
    /// The scenario needs admin credentials and none were configured.
    #[error("scenario `{scenario}` configures the organisation and needs an admin session")]
    NoAdmin {
        /// The scenario.
        scenario: String,
    },
    /// No analyzer matches the scenario's pattern on its Cortex server.
    #[error("no analyzer matches `{pattern}` on Cortex server `{cortex}`\navailable: {available}")]
    NoAnalyzer {
        /// The regex as written.
        pattern: String,
        /// The Cortex server name.
        cortex: String,
        /// What TheHive listed, as `name (servers)`.
        available: String,
    },
    /// A step of the sequence failed on the API.
    #[error("failed to {step}")]
    Step {
        /// The step, as a fragment after "failed to".
        step: String,
        /// What TheHive answered.
        #[source]
        source: Arc<ClientError>,
    },
    /// A notification template cannot be used.
    #[error("failed to use notification template `{template}`: {reason}")]
    Template {
        /// The template name or path.
        template: String,
        /// Why.
        reason: String,
    },
    /// The organisation's notification configuration could not be put back as it was.
    #[error("failed to restore the organisation's notification configuration: {reason}")]
    Restore {
        /// Why; the saved value and a command to restore it by hand are in the run's output.
        reason: String,
    },
    /// TheHive's answer to reading the configuration cannot be saved as it is, so it could not
    /// be put back either; nothing was written.
    #[error(
        "failed to save the organisation's notification configuration: the answer has no `value` \
         to put back: {answer}"
    )]
    UnsavableConfig {
        /// The answer, abridged.
        answer: String,
    },
    /// Appending our rule to the organisation's is impossible and replacing them was not asked
    /// for; nothing was written.
    #[error("failed to add the rule to the organisation's notification rules: {reason}")]
    CannotAppend {
        /// Why the two values cannot be joined.
        reason: String,
    },
    /// An earlier autorun trial of the run could not put the configuration back.
    #[error(
        "refusing to change the organisation's notification configuration: trial `{trial}` \
         could not put it back"
    )]
    EarlierRestoreFailed {
        /// The trial whose restore failed.
        trial: String,
        /// The command that restores what it saved.
        command: String,
    },
    /// The run was interrupted by a signal.
    #[error("interrupted by {signal}")]
    Interrupted {
        /// The signal's name.
        signal: String,
    },
    /// An autorun trial stopped before its verdict; what became of the organisation's
    /// configuration is said with it, since the operator needs that most then.
    #[error(
        "autorun trial stopped before its verdict; the notification configuration was {configuration}"
    )]
    Stopped {
        /// `restored and verified`, or `never changed`.
        configuration: String,
        /// Why the trial stopped.
        #[source]
        source: Arc<RunError>,
    },
    /// A file of the run's output could not be written.
    #[error("failed to write `{path}`: {reason}")]
    Output {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

impl RunError {
    /// Whether this is, or wraps, the interruption of the run by a signal.
    pub fn is_interruption(&self) -> bool {
        match self {
            RunError::Interrupted { .. } => true,
            RunError::Stopped { source, .. } => source.is_interruption(),
            _ => false,
        }
    }

    /// Wraps a client error as the failure of `step`.
    pub fn step(step: impl Into<String>, source: ClientError) -> Self {
        RunError::Step {
            step: step.into(),
            source: Arc::new(source),
        }
    }

    /// What the operator can try next.
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Session { source, .. } | RunError::Step { source, .. } => source.hint(),
            RunError::NoAdmin { .. } => Some(
                "give admin credentials (--admin-user and --admin-password, or --admin-api-key)"
                    .to_owned(),
            ),
            RunError::NoAnalyzer { .. } => Some(
                "check the analyzer is enabled in Cortex for this organisation, and the \
                 scenario's `cortex` server name (TheHive's Cortex settings show it)"
                    .to_owned(),
            ),
            RunError::Template { .. } => Some(
                "templates live in fixtures/notifications/; name one without `.json`, or give \
                 a path"
                    .to_owned(),
            ),
            RunError::UnsavableConfig { .. } => Some(
                "TheHive answers `{path, defaultValue, value}`; check the URL points at TheHive \
                 itself, not at a proxy or login page"
                    .to_owned(),
            ),
            RunError::CannotAppend { .. } => Some(
                "nothing was written; `hivecheck run --replace` sets the organisation's rules \
                 aside until the restore, or use a template (and an organisation value) that \
                 are both lists of rules"
                    .to_owned(),
            ),
            RunError::EarlierRestoreFailed { command, .. } => Some(format!(
                "saving the configuration now would save the changed one; put it back with \
                 `{command}`, then run again"
            )),
            RunError::Stopped { source, .. } => source.hint(),
            RunError::Restore { .. } | RunError::Output { .. } | RunError::Interrupted { .. } => {
                None
            }
        }
    }
}

/// Renders an error with its causes, one per line, and its hint in parentheses.
pub fn render(error: &(dyn std::error::Error + 'static), hint: Option<String>) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    if let Some(hint) = hint {
        text.push_str(&format!("\n({hint})"));
    }
    text
}
