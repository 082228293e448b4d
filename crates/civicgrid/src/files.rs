//! Uploaded files (meeting attachments, application materials): the type a file declares,
//! or, sent as plain bytes, the type its first bytes show; and the checks every upload
//! passes (a name that is safe in a header, an allowed type, a size, an image or PDF that is
//! what it says).

/// The type of a file: as declared, or from its first bytes when sent as
/// `application/octet-stream`.
pub fn sniffed<'a>(content_type: &'a str, data: &[u8]) -> &'a str {
    if content_type != "application/octet-stream" {
        return content_type;
    }
    if data.starts_with(b"%PDF") {
        "application/pdf"
    } else if data.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if data.len() > 12 && &data[0..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        "image/webp"
    } else if std::str::from_utf8(data).is_ok() {
        "text/plain"
    } else {
        content_type
    }
}

/// An upload's problems, each (field, problem): its name, its type among `allowed`, its size
/// up to `max_bytes`, and that an image or a PDF is one.
pub fn upload_problems(
    name: &str,
    content_type: &str,
    data: &[u8],
    allowed: &[&str],
    max_bytes: usize,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let n = name.trim().chars().count();
    if n == 0 || n > 120 || name.contains(['/', '\\', '"', '\n', '\r']) {
        problems.push((
            "name".to_owned(),
            "1 to 120 characters, without / \\ \" or line breaks".to_owned(),
        ));
    }
    if !allowed.contains(&content_type) {
        problems.push((
            "content_type".to_owned(),
            format!("one of {}", allowed.join(", ")),
        ));
    }
    if data.is_empty() || data.len() > max_bytes {
        problems.push((
            "file".to_owned(),
            format!("1 byte to {} MiB", max_bytes / (1024 * 1024)),
        ));
    }
    if content_type.starts_with("image/") && crate::cases::check_photo(content_type, data).is_err()
    {
        problems.push(("file".to_owned(), format!("not a {content_type} image")));
    }
    if content_type == "application/pdf" && !data.starts_with(b"%PDF") {
        problems.push(("file".to_owned(), "not a PDF document".to_owned()));
    }
    problems
}
