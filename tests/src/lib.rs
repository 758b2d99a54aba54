
pub mod support;
