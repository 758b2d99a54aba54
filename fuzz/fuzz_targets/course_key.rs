//! The course-key parser: never panics; whatever it accepts re-parses to itself.
#![no_main]

use edx_hooks_shared::course_key::parse_course_key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = parse_course_key(text) {
        let canonical = key.to_string();
        let again = parse_course_key(&canonical).expect("canonical form parses");
        assert_eq!(again.to_string(), canonical);
    }
});
