//! The CLI's one error enum: what a command can fail with, said in one line on stderr.

use app::platform::PlatformError;
use boot::BootError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Boot(#[from] BootError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("{0}")]
    Dev(#[from] auth::dev::DevIdpError),
    #[error("invalid input: {0}")]
    Invalid(#[from] domain::DomainError),
}
