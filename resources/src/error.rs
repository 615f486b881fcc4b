use crate::exec::ExecError;

/// Why a driver action failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A safety check said no; the message tells how to override when that is possible.
    #[error("{0}")]
    Refused(String),
    /// The system is not in a state the action can work from.
    #[error("{0}")]
    Failed(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
