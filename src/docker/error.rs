//! What the engine answered, in the service's terms: callers match
//! `NotFound` or `Conflict`, never a Docker status code.

use crate::error::Error;

/// Docker's words for a driver that cannot limit a container's disk
/// (overlay2 on a filesystem without project quotas).
const DRIVER_REFUSES_DISK_LIMITS: &str = "--storage-opt is supported only for";

/// A failed engine call. Its text is the client library's, word for word:
/// operators and tests read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The object is already as asked (a stop of a stopped container).
    NotModified(String),
    /// The engine refused the request's content as malformed.
    Invalid(String),
    /// No such container or image.
    NotFound(String),
    /// The object's state forbids it (name taken, in use, not running).
    Conflict(String),
    /// Any other refusal by the engine.
    Refused { status: u16, message: String },
    /// The engine could not be reached or its answer not read.
    Unavailable(String),
}

impl EngineError {
    /// The engine's status and message when it answered, else why not.
    fn answer(&self) -> Result<(u16, &str), &str> {
        match self {
            EngineError::NotModified(m) => Ok((304, m)),
            EngineError::Invalid(m) => Ok((400, m)),
            EngineError::NotFound(m) => Ok((404, m)),
            EngineError::Conflict(m) => Ok((409, m)),
            EngineError::Refused { status, message } => Ok((*status, message)),
            EngineError::Unavailable(why) => Err(why),
        }
    }

    /// The engine's own message, when it answered.
    pub fn message(&self) -> Option<&str> {
        self.answer().ok().map(|(_, m)| m)
    }

    /// Whether the storage driver refused a disk limit it cannot set. Only
    /// the driver's own words count: an image's content can make other
    /// create errors name storage-opt.
    pub fn refuses_disk_limit(&self) -> bool {
        self.message()
            .is_some_and(|m| m.contains(DRIVER_REFUSES_DISK_LIMITS))
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.answer() {
            Ok((status, message)) => {
                write!(f, "Docker responded with status code {status}: {message}")
            }
            Err(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<bollard::errors::Error> for EngineError {
    fn from(e: bollard::errors::Error) -> Self {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => match status_code {
                304 => EngineError::NotModified(message),
                400 => EngineError::Invalid(message),
                404 => EngineError::NotFound(message),
                409 => EngineError::Conflict(message),
                status => EngineError::Refused { status, message },
            },
            other => EngineError::Unavailable(other.to_string()),
        }
    }
}

/// An engine failure that is not about a specific object: the engine is
/// down or unreachable (DockerUnavailable) or refused the request (Internal).
impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        match e.answer() {
            Ok((status, message)) => {
                Error::Internal(format!("Docker engine answered {status}: {message}"))
            }
            Err(why) => Error::DockerUnavailable(why.to_string()),
        }
    }
}
