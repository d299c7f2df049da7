//! The HTTP/1 edge's request framing (crates/http/src/edge/framing.rs) on any bytes, split
//! anywhere: it never invents, drops or reorders a byte it passes on, and how the client's bytes
//! were split into reads changes neither what is passed on nor whether a request is refused.
#![no_main]

#[path = "../../crates/http/src/edge/framing.rs"]
#[allow(dead_code)]
mod framing;

use libfuzzer_sys::fuzz_target;

fn feed(parts: &[&[u8]]) -> (Vec<u8>, bool) {
    let mut framer = framing::Framer::default();
    let mut out = Vec::new();
    for part in parts {
        if framer.feed(part, &mut out).is_err() {
            return (out, true);
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = feed(&[input]);
    assert!(input.starts_with(&whole.0), "passed on bytes it was not given");
    let cut = usize::from(cut) * input.len() / 256;
    assert_eq!(feed(&[&input[..cut], &input[cut..]]), whole, "split at {cut}");
    let small: Vec<&[u8]> = input.chunks(7).collect();
    assert_eq!(feed(&small), whole, "split every 7 bytes");
});
