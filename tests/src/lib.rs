pub mod lab;
pub mod spc3;
