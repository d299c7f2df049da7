//! Avatar uploads: the sniffer and the bounded decoder/re-encoder on any bytes. The limits are
//! small so each run stays fast; the code path is the service's.
#![no_main]

#[path = "../../crates/server/src/adapters/image_decode.rs"]
mod image_decode;

use image_decode::{ImageRules, process, sniff};
use libfuzzer_sys::fuzz_target;

const RULES: ImageRules = ImageRules {
    max_side_px: 256,
    store_side_px: 64,
};

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data);
    if let Ok(img) = process(data, RULES) {
        assert_eq!(Some(img.format), sniffed);
        assert!(img.width <= RULES.store_side_px && img.height <= RULES.store_side_px);
        assert!(img.width > 0 && img.height > 0);
        // What is stored is itself an acceptable upload of the same format.
        assert_eq!(sniff(&img.bytes), Some(img.format));
    }
});
