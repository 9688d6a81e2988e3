//! Local development: every route of the API in one process, loading catalogs, and the on-sale
//! simulator.

pub mod demo_catalog;
pub mod onsale;
pub mod server;
pub mod web;
