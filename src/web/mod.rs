//! The web side: everything that reads the results store and answers HTTP. [`server`] routes
//! and serves; [`metrics`] renders the exposition (with [`process`] for the `process_*`
//! series), [`api`] the JSON documents, [`page`] the live checklist page and [`report`] the
//! sign-off reports, all from the same [`view`] of an item; [`webconfig`] (with
//! [`basic_auth`]) secures the endpoints from `--web.config.file`, and [`connections`] caps the
//! connections clients may hold.

pub mod api;
pub mod attestations;
pub mod basic_auth;
pub mod causes;
pub mod connections;
pub mod metrics;
pub mod page;
pub mod process;
pub mod report;
pub mod server;
pub mod view;
pub mod webconfig;
