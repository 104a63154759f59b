//! The service's failures, in its own terms. Each is one stable `code` of
//! api/openapi.json, which the Python driver turns into a Nova exception;
//! how each is answered over HTTP is src/api/error_response.rs's business.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error("instance {0} has no container on this host")]
    InstanceNotFound(String),
    #[error("instance {0} already has a container on this host")]
    InstanceExists(String),
    #[error("{0}")]
    ImageNotFound(String),
    /// The image exists but cannot be used: wrong format, corrupt, bad checksum.
    #[error("{0}")]
    ImageUnacceptable(String),
    /// Glance could not be reached or refused to hand over data.
    #[error("{0}")]
    ImageUnavailable(String),
    /// The host's Docker storage is full: another host may have room.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("{0}")]
    InstanceInvalidState(String),
    #[error("instance {0} has no container on this host to snapshot")]
    InstanceNotRunning(String),
    #[error("{0}")]
    SpawnFailed(String),
    #[error("{0}")]
    VifPlugFailed(String),
    /// The instance exists but cannot serve this yet (a console of a
    /// container that is not running).
    #[error("{0}")]
    InstanceNotReady(String),
    /// This host offers no such console (`[serial_console] enabled` is off).
    #[error("{0}")]
    ConsoleTypeUnavailable(String),
    /// Every port of `[serial_console] port_range` is taken.
    #[error("{0}")]
    ConsolePortRangeExhausted(String),
    #[error("Docker engine unavailable: {0}")]
    DockerUnavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The stable name of the failure, as api/openapi.json lists it.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "InvalidInput",
            Error::InstanceNotFound(_) => "InstanceNotFound",
            Error::InstanceExists(_) => "InstanceExists",
            Error::ImageNotFound(_) => "ImageNotFound",
            Error::ImageUnacceptable(_) => "ImageUnacceptable",
            Error::ImageUnavailable(_) => "ImageUnavailable",
            Error::InsufficientStorage(_) => "InsufficientStorage",
            Error::InstanceInvalidState(_) => "InstanceInvalidState",
            Error::InstanceNotRunning(_) => "InstanceNotRunning",
            Error::SpawnFailed(_) => "SpawnFailed",
            Error::VifPlugFailed(_) => "VifPlugFailed",
            Error::InstanceNotReady(_) => "InstanceNotReady",
            Error::ConsoleTypeUnavailable(_) => "ConsoleTypeUnavailable",
            Error::ConsolePortRangeExhausted(_) => "ConsolePortRangeExhausted",
            Error::DockerUnavailable(_) => "DockerUnavailable",
            Error::Internal(_) => "Internal",
        }
    }
}
