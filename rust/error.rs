//! The one error type of the core. Every fallible function returns it; `bind.rs`
//! maps it once to a Python exception, so nothing else knows about Python.

use thiserror::Error;

/// Why a core function refused its input or failed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CoreError {
    /// An array has the wrong shape or memory layout.
    #[error("{0}")]
    Shape(String),
    /// An argument is out of its documented range.
    #[error("{0}")]
    Argument(String),
    /// A progress observer asked to stop.
    #[error("interrupted")]
    Interrupted,
    /// A thread pool could not be created.
    #[error("could not start {threads} worker threads: {reason}")]
    ThreadPool { threads: usize, reason: String },
    /// A bug: a panic was caught or a result had an impossible shape.
    #[error("internal error in the mosaicfast core ({0}); please report it")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;
