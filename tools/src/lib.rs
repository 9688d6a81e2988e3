//! Local development: every route of the API in one process, and loading catalogs.

pub mod demo_catalog;
pub mod server;
