pub mod cliroot;
pub mod failover;
pub mod fixture;
pub mod hb;
pub mod lab;
pub mod spc3;
