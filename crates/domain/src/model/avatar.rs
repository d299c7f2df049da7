//! Avatar images: the formats the service accepts and the storage keys it writes them under.

use std::fmt;

use uuid::Uuid;

/// The image formats an avatar may have. Decided from the bytes, never from what the client claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG (`image/jpeg`).
    Jpeg,
    /// PNG (`image/png`).
    Png,
    /// WebP (`image/webp`).
    WebP,
}

impl ImageFormat {
    /// The MIME type served with the image.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::WebP => "image/webp",
        }
    }

    /// The file extension of stored images, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::WebP => "webp",
        }
    }

    /// The format a stored key's extension names; keys are only ever written with these three.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "jpg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            "webp" => Some(Self::WebP),
            _ => None,
        }
    }
}

/// Longest key accepted; real keys are about 100 bytes.
const MAX_KEY_LEN: usize = 512;

/// Where an avatar object lives in the store. Built by the service, or parsed strictly from a URL path
/// before anything touches a store: only `[A-Za-z0-9/_.-]`, relative, no empty, `.` or `..` segment,
/// under `avatars/`, ending in a known image extension. That makes escaping the storage root through a
/// key impossible whatever the backend does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarKey(String);

impl AvatarKey {
    /// A fresh key for one upload: a new object per upload, so a cached URL never shows a stale picture.
    pub fn fresh(namespace: &str, user_id: Uuid, object_id: Uuid, format: ImageFormat) -> Self {
        Self(format!(
            "avatars/{namespace}/{user_id}/{object_id}.{}",
            format.extension()
        ))
    }

    /// The format of a MIME type or extension, or `None` for another one.
    pub fn parse(raw: &str) -> Option<Self> {
        let charset_ok = !raw.is_empty()
            && raw.len() <= MAX_KEY_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'));
        let segments_ok = raw
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
        let shape_ok = raw.starts_with("avatars/") && Self::format_of(raw).is_some();
        (charset_ok && segments_ok && shape_ok).then(|| Self(raw.to_owned()))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The format the key's extension names.
    pub fn format(&self) -> ImageFormat {
        Self::format_of(&self.0).unwrap_or(ImageFormat::Jpeg)
    }

    fn format_of(raw: &str) -> Option<ImageFormat> {
        let (_, ext) = raw.rsplit_once('.')?;
        ImageFormat::from_extension(ext)
    }
}

impl fmt::Display for AvatarKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_keys_parse_back_and_name_their_format() {
        let key = AvatarKey::fresh(
            "shop",
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            ImageFormat::WebP,
        );
        assert_eq!(
            key.as_str(),
            "avatars/shop/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002.webp"
        );
        assert_eq!(AvatarKey::parse(key.as_str()), Some(key.clone()));
        assert_eq!(key.format(), ImageFormat::WebP);
    }

    #[test]
    fn refuses_every_way_out_of_the_root() {
        for bad in [
            "",
            "/avatars/a/b.png",
            "avatars/../secret.png",
            "avatars/a/../../b.png",
            "avatars/./b.png",
            "avatars//b.png",
            "avatars/%2e%2e/b.png",
            "avatars\\..\\b.png",
            "avatars/a b.png",
            "avatars/b.png/",
            "other/b.png",
            "avatars/b.gif",
            "avatars/b",
            "avatars/ü.png",
        ] {
            assert_eq!(AvatarKey::parse(bad), None, "{bad:?} must be refused");
        }
        let long = format!("avatars/{}.png", "a".repeat(600));
        assert_eq!(AvatarKey::parse(&long), None);
        assert!(AvatarKey::parse("avatars/shop/u-1/x_y.jpg").is_some());
    }
}
