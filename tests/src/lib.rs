
pub mod support;
pub mod lms_emulator;
pub mod richie_server;
