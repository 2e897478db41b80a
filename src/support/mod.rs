//! The lowest layer: small pieces that know nothing of checklists, items or checks, used by every
//! layer above. Nothing here imports another folder of the crate.

pub mod accounts;
pub mod decode;
pub mod dotenv;
pub mod file_identity;
pub mod memory;
pub mod secret;
pub mod shared;
pub mod text;
pub mod tls;
pub mod units;
pub mod url;
