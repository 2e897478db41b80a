//! What the daemon keeps on disk between runs: the go-live [`baseline`] that regressions are
//! measured against, and the [`attestations`] people record for items no program can decide.
//! Both are written atomically and never replaced when they cannot be read.

pub mod attestations;
pub mod baseline;
