//! One module per screen.

pub mod application;
pub mod authorize;
pub mod bank;
pub mod consents;
pub mod decision;
pub mod home;
pub mod login;
pub mod manager;
pub mod not_found;
pub mod profile;
pub mod scan;
