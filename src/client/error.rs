//! [`ClientError`]: what failed when hivecheck talked to TheHive.
//!
//! TheHive answers errors as `{type, message}` (plus `errors` for attribute checks). Each
//! variant keeps the request (method and path), the status and TheHive's own words, so a
//! message says which call failed and why. [`ClientError::hint`] adds what to try next.

use serde::Deserialize;

/// TheHive's error body: `{"type": .., "message": .., "errors": [..]}`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ApiErrorBody {
    /// The error class, e.g. `AuthenticationError` or `AttributeCheckingError`.
    #[serde(rename = "type")]
    pub kind: String,
    /// TheHive's message.
    #[serde(default)]
    pub message: String,
    /// Per-attribute errors of an `AttributeCheckingError`.
    #[serde(default)]
    pub errors: Vec<AttributeError>,
}

/// One attribute named by an `AttributeCheckingError`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AttributeError {
    /// The attribute, e.g. `cortexId`.
    pub name: String,
    /// The check that failed, e.g. `MissingAttributeError`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A failed exchange with TheHive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configured URL cannot be used as a base URL.
    #[error("invalid TheHive URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// No HTTP answer at all: DNS, connection, TLS or a time-out.
    #[error("failed to reach TheHive for {method} {path} at `{base}`")]
    Transport {
        /// The base URL.
        base: String,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// What the HTTP stack reported.
        #[source]
        source: reqwest::Error,
    },
    /// 401: the credentials, or the organisation header, were refused.
    #[error("{who} failed to authenticate: {message} (401 on {method} {path})")]
    Authentication {
        /// Which session, e.g. ``user session `analyst@thehive.local` ``.
        who: String,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// TheHive's message, or a note when the body was empty.
        message: String,
    },
    /// 403: authenticated, but the profile lacks a permission.
    #[error("{who} is not allowed to {method} {path}: {message} (403 {kind})")]
    Forbidden {
        /// Which session.
        who: String,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// TheHive's error type.
        kind: String,
        /// TheHive's message, naming the missing permission.
        message: String,
    },
    /// 400 `AttributeCheckingError`: required fields missing or invalid.
    #[error("{method} {path} was refused for attributes {}: {message}", attributes.join(", "))]
    Attributes {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The attributes TheHive named.
        attributes: Vec<String>,
        /// TheHive's message.
        message: String,
    },
    /// 404: no such entity, or no such route (then the message is the path).
    #[error("{method} {path} found nothing: {message} (404 {kind})")]
    NotFound {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// TheHive's error type.
        kind: String,
        /// TheHive's message.
        message: String,
    },
    /// Any other error status.
    #[error("{method} {path} failed with {status} {kind}: {message}")]
    Api {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// TheHive's error type, or `-` when the body was not an error object.
        kind: String,
        /// TheHive's message, or the start of the body.
        message: String,
    },
    /// A success status whose body is not what the API documents.
    #[error("{method} {path} answered {status} with a body hivecheck cannot read: {detail}")]
    UnexpectedBody {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// What did not match.
        detail: String,
    },
}

impl ClientError {
    /// The HTTP status of the failed exchange, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Authentication { .. } => Some(401),
            ClientError::Forbidden { .. } => Some(403),
            ClientError::Attributes { .. } => Some(400),
            ClientError::NotFound { .. } => Some(404),
            ClientError::Api { status, .. } | ClientError::UnexpectedBody { status, .. } => {
                Some(*status)
            }
            ClientError::InvalidUrl { .. } | ClientError::Transport { .. } => None,
        }
    }

    /// Whether the failure is in TLS (an untrusted or invalid certificate, a handshake error)
    /// rather than in reaching the host at all.
    pub fn is_tls(&self) -> bool {
        let ClientError::Transport { source, .. } = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
        while let Some(error) = cause {
            let text = error.to_string().to_ascii_lowercase();
            // rustls words its failures this way; "connection refused" has none of them.
            let tls_words = [
                "certificate",
                "tls",
                "handshake",
                "ssl",
                "corrupt message",
                "alert",
            ];
            if tls_words.iter().any(|w| text.contains(w)) {
                return true;
            }
            cause = error.source();
        }
        false
    }

    /// What the operator can try next, in one sentence.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            ClientError::InvalidUrl { .. } => {
                "give the base URL with its scheme, e.g. https://thehive.example.org or \
                 https://host/thehive when TheHive runs under a context path"
            }
            ClientError::Transport { .. } => {
                "check that TheHive runs at that URL and that its TLS certificate is trusted \
                 (--ca-cert); run without --url to use the built-in emulator"
            }
            ClientError::Authentication { .. } => {
                "check this session's login and password or API key; TheHive also answers 401 \
                 when the organisation given is one the user does not belong to"
            }
            ClientError::Forbidden { .. } => {
                "the user's profile in this organisation lacks the permission named above; \
                 organisation configuration needs an org-admin or an admin-org user"
            }
            ClientError::Attributes { .. } => {
                "TheHive requires these fields; a job needs analyzerId, artifactId and cortexId \
                 (the Cortex server name, e.g. cortex0)"
            }
            ClientError::NotFound { message, path, .. } if message == path => {
                "TheHive has no such route: this path does not exist on this version"
            }
            ClientError::NotFound { .. } => "check the id and the organisation it belongs to",
            ClientError::Api { status: 500, .. } => {
                "TheHive reports an internal error; its log, and Cortex's, say more \
                 (an analyzer unknown to Cortex surfaces as a 500)"
            }
            ClientError::Api { .. } | ClientError::UnexpectedBody { .. } => return None,
        };
        Some(hint.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_not_found_gets_its_own_hint() {
        let err = ClientError::NotFound {
            method: "GET".into(),
            path: "/api/case/artifact/~1/job".into(),
            kind: "NotFoundError".into(),
            message: "/api/case/artifact/~1/job".into(),
        };
        assert!(err.hint().unwrap().contains("no such route"));
        assert_eq!(err.status(), Some(404));
    }

    #[test]
    fn attribute_error_lists_every_attribute() {
        let err = ClientError::Attributes {
            method: "POST".into(),
            path: "/api/connector/cortex/job".into(),
            attributes: vec!["analyzerId".into(), "cortexId".into()],
            message: "[Attribute cortexId is missing]".into(),
        };
        let text = err.to_string();
        assert!(text.contains("analyzerId, cortexId"), "{text}");
    }
}
