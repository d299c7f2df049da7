//! What an upload is, decided from its bytes, then re-encoded from its pixels alone (so no EXIF, GPS
//! or other metadata of the original survives) and scaled down.
//!
//! The decoder is told the limits before it allocates anything: a header that claims 100000×100000
//! pixels is refused after reading the header, not after trying to allocate 40 GB. Synchronous and
//! free of the web framework, so the fuzzer (`fuzz/`) compiles this file as it is.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, Limits};
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::ImageFormat;
use user_service_domain::ports::ProcessedImage;

/// Quality of re-encoded JPEGs: visually lossless for a profile picture at a fraction of the size.
const JPEG_QUALITY: u8 = 85;

#[derive(Debug, Clone, Copy)]
pub struct ImageRules {
    /// Uploads wider or taller than this are refused.
    pub max_side_px: u32,
    /// Stored images are scaled down to at most this on their longer side.
    pub store_side_px: u32,
}

impl ImageRules {
    /// The most memory one decode may take: an 8-bit RGBA picture of the largest accepted size.
    fn max_alloc(self) -> u64 {
        u64::from(self.max_side_px) * u64::from(self.max_side_px) * 4
    }
}

/// The format the first bytes announce. Only a successful decode confirms it.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

fn codec(format: ImageFormat) -> image::ImageFormat {
    match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::WebP => image::ImageFormat::WebP,
    }
}

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::InvalidImage(message.into())
}

/// Checks, decodes, orients, scales and re-encodes one upload. Synchronous: call it off the executor.
pub fn process(upload: &[u8], rules: ImageRules) -> DomainResult<ProcessedImage> {
    let format =
        sniff(upload).ok_or_else(|| invalid("only JPEG, PNG and WEBP images are accepted"))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(rules.max_side_px);
    limits.max_image_height = Some(rules.max_side_px);
    limits.max_alloc = Some(rules.max_alloc());
    let mut reader = ImageReader::with_format(Cursor::new(upload), codec(format));
    reader.limits(limits);
    let too_large = || {
        invalid(format!(
            "the image must be at most {0}x{0} pixels",
            rules.max_side_px
        ))
    };
    let undecodable = || invalid(format!("the file is not a valid {}", format.extension()));
    let decode_error = |e: ImageError| match e {
        ImageError::Limits(_) => too_large(),
        _ => undecodable(),
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(undecodable());
    }
    if width > rules.max_side_px || height > rules.max_side_px {
        return Err(too_large());
    }
    if decoder.total_bytes() > rules.max_alloc() {
        return Err(too_large());
    }
    // The re-encoded file carries no EXIF, so the rotation it asked for is applied to the pixels.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    if img.width().max(img.height()) > rules.store_side_px {
        img = img.resize(
            rules.store_side_px,
            rules.store_side_px,
            FilterType::Triangle,
        );
    }
    let (width, height) = (img.width(), img.height());
    let bytes = encode(img, format)?;
    Ok(ProcessedImage {
        format,
        bytes,
        width,
        height,
    })
}

/// Writes pixels only: none of the encoders here is given any metadata to copy.
fn encode(img: DynamicImage, format: ImageFormat) -> DomainResult<Vec<u8>> {
    let mut out = Vec::new();
    let written = match format {
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(img.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)),
        ImageFormat::Png => {
            let img = match img {
                DynamicImage::ImageLuma8(_)
                | DynamicImage::ImageLumaA8(_)
                | DynamicImage::ImageRgb8(_)
                | DynamicImage::ImageRgba8(_)
                | DynamicImage::ImageLuma16(_)
                | DynamicImage::ImageLumaA16(_)
                | DynamicImage::ImageRgb16(_)
                | DynamicImage::ImageRgba16(_) => img,
                other => DynamicImage::ImageRgba8(other.to_rgba8()),
            };
            img.write_with_encoder(PngEncoder::new(&mut out))
        }
        ImageFormat::WebP => {
            let img = if img.color().has_alpha() {
                DynamicImage::ImageRgba8(img.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(img.to_rgb8())
            };
            img.write_with_encoder(WebPEncoder::new_lossless(&mut out))
        }
    };
    written.map_err(DomainError::unexpected)?;
    Ok(out)
}
