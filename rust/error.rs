//! The one error type of the core. Every fallible function returns it; `lib.rs`
//! maps it once to a Python exception, so nothing here knows about Python.

use thiserror::Error;

/// Why a core function refused its input.
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
}

pub type CoreResult<T> = Result<T, CoreError>;
