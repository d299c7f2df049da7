//! Writes a JPEG of about the size asked for (default 500 KB), for the avatar upload benchmark:
//! `cargo run -p user-service-e2e --example bench_jpeg -- OUT.jpg [BYTES]`.

use std::io::Cursor;
use std::process::ExitCode;

/// A photo-like picture: smooth gradients plus deterministic noise, which JPEG cannot squeeze away.
fn picture(width: u32, height: u32) -> image::RgbImage {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 48) as u32;
        image::Rgb([
            ((x * 255 / width + noise) % 256) as u8,
            ((y * 255 / height + noise) % 256) as u8,
            (((x + y) / 8 + noise) % 256) as u8,
        ])
    })
}

fn jpeg(side: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let img = picture(side, side * 3 / 4);
    match img.write_to(&mut out, image::ImageFormat::Jpeg) {
        Ok(()) => out.into_inner(),
        Err(_) => Vec::new(),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: bench_jpeg OUT.jpg [BYTES]");
        return ExitCode::FAILURE;
    };
    let target: usize = args.next().and_then(|b| b.parse().ok()).unwrap_or(500_000);
    // The size grows with the area: search the width whose file is closest to the target.
    let (mut lo, mut hi) = (16u32, 8192u32);
    while hi - lo > 8 {
        let mid = (lo + hi) / 2;
        if jpeg(mid).len() < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let bytes = jpeg(hi);
    if let Err(e) = std::fs::write(&out, &bytes) {
        eprintln!("bench_jpeg: {out}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{} bytes, {}x{}", bytes.len(), hi, hi * 3 / 4);
    ExitCode::SUCCESS
}
