//! novadock: Nova's compute-driver contract over the Docker engine.

pub mod api;
pub mod check;
pub mod compute;
pub mod config;
pub mod docker;
pub mod error;
pub mod host;
pub mod host_firewall;
pub mod image;
pub mod keystone;
pub mod model;
pub mod network;
pub mod server;
pub mod tls;
pub mod ttl_cache;
