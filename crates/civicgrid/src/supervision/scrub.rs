//! Files a reporter adds keep nothing that could identify them: photos are decoded and
//! encoded again from their pixels (EXIF, GPS, camera serials, XMP, ICC profiles and
//! thumbnails do not survive), turned upright first so that nothing is lost by dropping the
//! orientation tag; plain text has no metadata. Any other format is refused, because its
//! metadata (PDF authors, Office revision histories, video GPS tracks) cannot be removed
//! reliably here. The file's own name is not kept either: it is named by its place in the
//! report (`photo-2.jpg`), since a camera's name (`IMG_20260302_143012.jpg`) tells the time.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader};

/// The largest file a reporter may add.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// A file with its metadata removed: the type it is kept as, and its bytes.
#[derive(Debug)]
pub struct Scrubbed {
    pub media_type: &'static str,
    pub extension: &'static str,
    pub bytes: Vec<u8>,
}

/// Why a file was refused, in words a reporter can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the file is empty or larger than 8 MiB")]
    Size,
    #[error(
        "only photos (JPEG, PNG, WebP) and plain text are accepted: other formats keep metadata (authors, places, times) that cannot be removed reliably; take a photo or a screenshot of the document instead"
    )]
    Format,
    #[error("the photo cannot be read: {0}")]
    Unreadable(String),
    #[error("the text is not UTF-8 text")]
    NotText,
}

/// Removes a file's metadata, by what its first bytes show (not by what it claims).
pub fn scrub(data: &[u8]) -> Result<Scrubbed, Refused> {
    if data.is_empty() || data.len() > MAX_BYTES {
        return Err(Refused::Size);
    }
    let format = match image::guess_format(data) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Some(f),
        Ok(_) => return Err(Refused::Format),
        Err(_) => None,
    };
    match format {
        Some(format) => photo(data, format),
        None => text(data),
    }
}

fn photo(data: &[u8], format: ImageFormat) -> Result<Scrubbed, Refused> {
    let unreadable = |e: image::ImageError| Refused::Unreadable(e.to_string());
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    let mut limits = image::Limits::default();
    // A few-kilobyte file must not claim a picture that fills the memory.
    limits.max_image_width = Some(12_000);
    limits.max_image_height = Some(12_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut picture = image::DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    picture.apply_orientation(orientation);
    let mut out = Cursor::new(Vec::new());
    let kept = if format == ImageFormat::Jpeg {
        let rgb = picture.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&rgb)
            .map_err(unreadable)?;
        ("image/jpeg", "jpg")
    } else {
        // PNG and WebP alike become PNG (lossless; the encoder writes no text chunks).
        picture
            .write_to(&mut out, ImageFormat::Png)
            .map_err(unreadable)?;
        ("image/png", "png")
    };
    Ok(Scrubbed {
        media_type: kept.0,
        extension: kept.1,
        bytes: out.into_inner(),
    })
}

fn text(data: &[u8]) -> Result<Scrubbed, Refused> {
    let text = std::str::from_utf8(data).map_err(|_| Refused::NotText)?;
    if text.contains('\0') {
        return Err(Refused::NotText);
    }
    // Binary formats (PDF, Office, archives) that happen to be ASCII-safe start with their
    // magic; refuse them as formats, not as text.
    let magic: &[&str] = &["%PDF", "PK\u{3}\u{4}", "{\\rtf", "<?xml", "BEGIN:VCARD"];
    if magic.iter().any(|m| text.starts_with(m)) {
        return Err(Refused::Format);
    }
    Ok(Scrubbed {
        media_type: "text/plain; charset=utf-8",
        extension: "txt",
        bytes: text.trim_start_matches('\u{feff}').as_bytes().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG with an EXIF block holding a GPS tag and a camera serial.
    fn jpeg_with_exif() -> Vec<u8> {
        let picture =
            image::RgbImage::from_fn(32, 16, |x, y| image::Rgb([x as u8 * 8, y as u8 * 16, 90]));
        let mut plain = Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
            .encode_image(&picture)
            .expect("jpeg");
        let plain = plain.into_inner();
        let exif_body = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 22.5431 SerialNumber CAM-99812 DateTimeOriginal 2026:03:02 14:30:12";
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(
            &u16::try_from(exif_body.len() + 2)
                .expect("len")
                .to_be_bytes(),
        );
        app1.extend_from_slice(exif_body);
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&app1);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn a_photo_loses_its_exif_and_stays_a_photo() {
        let original = jpeg_with_exif();
        assert!(original.windows(9).any(|w| w == b"CAM-99812"));
        let kept = scrub(&original).expect("scrubbed");
        assert_eq!(kept.media_type, "image/jpeg");
        for secret in [&b"CAM-99812"[..], b"Exif", b"GPSLatitude", b"2026:03:02"] {
            assert!(!kept.bytes.windows(secret.len()).any(|w| w == secret));
        }
        let back = image::load_from_memory(&kept.bytes).expect("a picture");
        assert_eq!((back.width(), back.height()), (32, 16));
    }

    #[test]
    fn png_text_chunks_do_not_survive() {
        let picture = image::RgbaImage::from_pixel(4, 4, image::Rgba([1, 2, 3, 255]));
        let mut png = Cursor::new(Vec::new());
        picture.write_to(&mut png, ImageFormat::Png).expect("png");
        let png = png.into_inner();
        // Insert a tEXt chunk after IHDR (8-byte signature + 25-byte IHDR chunk).
        let body = b"tEXtAuthor\0Wang Wei";
        let mut chunk = u32::try_from(body.len() - 4)
            .expect("len")
            .to_be_bytes()
            .to_vec();
        chunk.extend_from_slice(body);
        chunk.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
        let mut with_text = png[..33].to_vec();
        with_text.extend_from_slice(&chunk);
        with_text.extend_from_slice(&png[33..]);
        let kept = scrub(&with_text).expect("scrubbed");
        assert_eq!(kept.media_type, "image/png");
        assert!(!kept.bytes.windows(8).any(|w| w == b"Wang Wei"));
    }

    #[test]
    fn other_formats_are_refused_with_a_reason() {
        assert_eq!(
            scrub(b"%PDF-1.7\n/Author (Wang Wei)").map(|s| s.media_type),
            Err(Refused::Format)
        );
        assert_eq!(
            scrub(b"GIF89a....").map(|s| s.media_type),
            Err(Refused::Format)
        );
        assert_eq!(
            scrub(b"PK\x03\x04word").map(|s| s.media_type),
            Err(Refused::Format)
        );
        assert_eq!(
            scrub(&[0xFF, 0xFE, 0x00, 0x01]).map(|s| s.media_type),
            Err(Refused::NotText)
        );
        assert_eq!(scrub(b"").map(|s| s.media_type), Err(Refused::Size));
        assert!(matches!(
            scrub(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Err(Refused::Unreadable(_))
        ));
        let text = scrub("\u{feff}他每月多领了两份低保。".as_bytes()).expect("text");
        assert_eq!(text.media_type, "text/plain; charset=utf-8");
        assert!(text.bytes.starts_with("他".as_bytes()));
    }
}
