pub mod cliroot;
pub mod fixture;
pub mod lab;
pub mod spc3;
