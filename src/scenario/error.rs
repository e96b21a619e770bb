//! [`ScenarioError`]: a scenario file that cannot be used, and where.

use std::path::{Path, PathBuf};

use super::model::Location;

/// A scenario file that cannot be read, parsed or validated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file or directory cannot be read.
    #[error("failed to read `{}`", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no `*.toml` file.
    #[error("no scenario in `{}`", dir.display())]
    Empty {
        /// The directory.
        dir: PathBuf,
    },
    /// The file is not valid TOML, has an unknown key, a value of the wrong type, or a value
    /// that contradicts another.
    #[error("{}:{line}:{column}: {message}\n{snippet}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, as a lowercase fragment.
        message: String,
        /// The offending line with a caret under the position.
        snippet: String,
        /// What to write instead.
        hint: Option<String>,
    },
}

impl ScenarioError {
    /// An error at a location recorded when the file was loaded (for checks made later, such
    /// as a notification template that does not exist).
    pub fn at(path: &Path, at: &Location, message: impl Into<String>, hint: &str) -> Self {
        ScenarioError::Invalid {
            path: path.to_owned(),
            line: at.line,
            column: at.column,
            message: message.into(),
            snippet: at.snippet.clone(),
            hint: Some(hint.to_owned()),
        }
    }

    /// What to write instead, if known.
    pub fn hint(&self) -> Option<String> {
        match self {
            ScenarioError::Invalid { hint, .. } => hint.clone(),
            ScenarioError::Empty { .. } => Some(
                "write a scenario there (see scenarios/compact.toml) or name another directory \
                 with --scenarios"
                    .to_owned(),
            ),
            ScenarioError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some(
                    "run hivecheck from the project's top directory, or name the scenarios with \
                     --scenarios PATH"
                        .to_owned(),
                )
            }
            ScenarioError::Io { .. } => None,
        }
    }
}
