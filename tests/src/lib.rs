pub mod lms_emulator;
pub mod real_lms;
pub mod richie_server;
pub mod support;
pub mod webhook_harness;
