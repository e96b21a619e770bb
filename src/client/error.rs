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
    /// The configured URL carries a login or password (`https://user:pw@host`).
    #[error("the URL `{url}` carries a login or password")]
    CredentialsInUrl {
        /// The URL with its credentials cut out.
        url: String,
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
    #[error("{who} failed to authenticate: {message} (401 {kind} on {method} {path})")]
    Authentication {
        /// Which session, e.g. ``user session `analyst@thehive.local` ``.
        who: String,
        /// The request method.
        method: String,
        /// The request path.
        path: String,
        /// TheHive's error type (`AuthenticationError`), or `-` when the body was empty.
        kind: String,
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
    #[error(
        "{method} {path} was refused for attributes {}: {message} (400 AttributeCheckingError)",
        attributes.join(", ")
    )]
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
            ClientError::InvalidUrl { .. }
            | ClientError::CredentialsInUrl { .. }
            | ClientError::Transport { .. } => None,
        }
    }

    /// Whether the failure is in TLS (an untrusted or invalid certificate, a handshake error)
    /// rather than in reaching the host at all.
    ///
    /// The cause chain is inspected by type, not by wording: the texts of DNS and connection
    /// errors contain the host name, and a host such as `alerts.invalid` or `ssl-gw.invalid`
    /// must not read as a TLS failure. rustls reports every TLS failure as a `rustls::Error`,
    /// which tokio-rustls wraps in an `io::Error` of kind `InvalidData`; `io::Error::source`
    /// skips that wrapped error, so it is reached through `get_ref`.
    pub fn is_tls(&self) -> bool {
        let ClientError::Transport { source, .. } = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
        while let Some(error) = cause {
            if error.is::<rustls::Error>() {
                return true;
            }
            let wrapped = error
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref);
            cause = match wrapped {
                Some(inner) => Some(inner),
                None => error.source(),
            };
        }
        false
    }

    /// Whether this is TheHive's catch-all 404 for a route it does not have: its message is
    /// the request path, prefixed by the context path when TheHive runs under one
    /// (`/thehive/api/status` for a request to `/api/status`).
    pub fn is_route_missing(&self) -> bool {
        let ClientError::NotFound { message, path, .. } = self else {
            return false;
        };
        let bare = path.split('?').next().unwrap_or(path);
        message.starts_with('/') && message.ends_with(bare)
    }

    /// What the operator can try next, in one sentence.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            ClientError::InvalidUrl { .. } => {
                "give the base URL with its scheme, e.g. https://thehive.example.org or \
                 https://host/thehive when TheHive runs under a context path"
            }
            ClientError::CredentialsInUrl { .. } => {
                "give the URL without them; use --user/--password or THEHIVE_USER/THEHIVE_PASSWORD \
                 (or an API key) for the credentials"
            }
            ClientError::Transport { .. } if self.is_tls() => {
                "the server's TLS certificate is not trusted: give its CA with --ca-cert, check \
                 the URL's scheme and host name, or (only for a test instance) --insecure"
            }
            ClientError::Transport { .. } => {
                "check that TheHive runs at that URL (host, port, scheme) and that nothing in \
                 between blocks it; without a URL (no --url, no THEHIVE_URL) hivecheck uses its \
                 built-in emulator"
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
            ClientError::NotFound { .. } if self.is_route_missing() => {
                "TheHive has no such route: the path does not exist on this version, or the \
                 URL's context path is wrong"
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
    fn route_not_found_under_a_context_path_is_recognised() {
        let err = ClientError::NotFound {
            method: "GET".into(),
            path: "/api/connector/cortex/analyzer?range=all".into(),
            kind: "NotFoundError".into(),
            message: "/thehive/api/connector/cortex/analyzer".into(),
        };
        assert!(err.is_route_missing());
        assert!(err.hint().unwrap().contains("context path"));

        let entity = ClientError::NotFound {
            method: "GET".into(),
            path: "/api/case/~1".into(),
            kind: "NotFoundError".into(),
            message: "Case not found".into(),
        };
        assert!(!entity.is_route_missing());
    }

    #[test]
    fn error_texts_give_status_type_and_message() {
        let unauthorised = ClientError::Authentication {
            who: "user session `a`".into(),
            method: "GET".into(),
            path: "/api/user/current".into(),
            kind: "AuthenticationError".into(),
            message: "Authentication failure".into(),
        };
        let attributes = ClientError::Attributes {
            method: "POST".into(),
            path: "/api/connector/cortex/job".into(),
            attributes: vec!["cortexId".into()],
            message: "[Attribute cortexId is missing]".into(),
        };

        assert_eq!(
            unauthorised.to_string(),
            "user session `a` failed to authenticate: Authentication failure \
             (401 AuthenticationError on GET /api/user/current)"
        );
        assert_eq!(
            attributes.to_string(),
            "POST /api/connector/cortex/job was refused for attributes cortexId: \
             [Attribute cortexId is missing] (400 AttributeCheckingError)"
        );
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
