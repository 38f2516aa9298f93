//! What a presented file may be, and how it is handed back. A document is downloaded by the
//! other parties of the order in their browsers: served with the type its uploader claimed,
//! a "bill of lading" that is really HTML with a script runs in the bank's session. So a
//! file is accepted only as one of the types trade documents come in (PDF, images, XML,
//! JSON, plain text), and only when its bytes are what the type says (sniffed: a PDF starts
//! `%PDF`, a PNG with its signature, …; nothing that reads as HTML passes as anything); it
//! is served as an attachment, `nosniff`, under a CSP that lets nothing run.

use crate::error::ApiError;
use axum::http::StatusCode;

/// The types a document may have, with the extension it is downloaded under.
pub(crate) const ALLOWED: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/tiff", "tif"),
    ("application/xml", "xml"),
    ("application/json", "json"),
    ("text/plain", "txt"),
];

/// The Content-Security-Policy of a download: no script, no plugin, no frame, no fetch.
pub(crate) const CSP: &str = "default-src 'none'; sandbox; frame-ancestors 'none'";

/// The media type of an upload: the declared one (parameters dropped, `text/xml` read as
/// `application/xml`) if allowed and matched by the bytes; a missing or generic declaration
/// (`application/octet-stream`) is decided by the bytes' signature (PDF, PNG, JPEG, TIFF).
pub(crate) fn of_upload(declared: Option<&str>, bytes: &[u8]) -> Result<&'static str, ApiError> {
    let declared = declared
        .map(|d| d.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    let html = || mismatch("the file reads as HTML, which no document may be");
    let Some(declared) = declared else {
        if looks_like_html(bytes) {
            return Err(html());
        }
        return signature(bytes).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "declare the file's type (Content-Type): PDF, PNG, JPEG, TIFF, XML, JSON or plain text",
            )
        });
    };
    let declared = if declared == "text/xml" { "application/xml".to_string() } else { declared };
    let Some(&(kind, _)) = ALLOWED.iter().find(|(t, _)| *t == declared) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("{declared} is not a document type: PDF, PNG, JPEG, TIFF, XML, JSON or plain text"),
        ));
    };
    if looks_like_html(bytes) {
        return Err(html());
    }
    let matches = match kind {
        "application/xml" => text(bytes)
            .is_some_and(|t| t.trim_start_matches('\u{feff}').trim_start().starts_with('<') && !xml_renders_as_page(t)),
        "application/json" => serde_json::from_slice::<serde_json::Value>(bytes).is_ok(),
        "text/plain" => text(bytes).is_some_and(|t| !t.contains('\0')),
        binary => signature(bytes) == Some(binary),
    };
    if matches { Ok(kind) } else { Err(mismatch(&format!("the file is not {kind}"))) }
}

/// The type a stored file is served with: its own if allowed (files stored before the
/// allow list may carry anything), else a download of bytes.
pub(crate) fn served(stored: &str) -> (&'static str, &'static str) {
    ALLOWED.iter().find(|(t, _)| *t == stored).copied().unwrap_or(("application/octet-stream", "bin"))
}

fn mismatch(why: &str) -> ApiError {
    ApiError::validation("MEDIA_TYPE_MISMATCH", format!("{why}: the bytes must be what Content-Type says"))
}

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

/// The binary types recognisable by their first bytes.
fn signature(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        Some("image/tiff")
    } else {
        None
    }
}

/// What a browser would render as a page: markup of HTML or SVG near the start, as the
/// WHATWG sniffing algorithm looks for it (its first 512 bytes, case-insensitive).
fn looks_like_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    [
        "<!doctype html",
        "<html",
        "<script",
        "<head",
        "<body",
        "<iframe",
        "<svg",
        "<img",
        "<a ",
        "<div",
        "<style",
        "<title",
    ]
    .iter()
    .any(|tag| head.contains(tag))
}

/// An XML document a browser would run as a page wherever the markup sits (not only in its
/// first 512 bytes): elements in the XHTML or SVG namespace (under any prefix: `<h:script
/// xmlns:h="http://www.w3.org/1999/xhtml">`), or a style sheet that transforms it into one
/// (`<?xml-stylesheet?>`). No trade document (UBL, ISO 20022, an e-invoice) needs either.
fn xml_renders_as_page(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg", "<?xml-stylesheet"]
        .iter()
        .any(|needle| lower.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_types_whose_bytes_match_pass() {
        assert_eq!(of_upload(Some("application/pdf"), b"%PDF-1.7 invoice").expect("pdf"), "application/pdf");
        assert_eq!(of_upload(None, b"%PDF-1.7 invoice").expect("sniffed"), "application/pdf");
        assert_eq!(of_upload(Some("application/octet-stream"), b"\x89PNG\r\n\x1a\nrest").expect("png"), "image/png");
        assert_eq!(
            of_upload(Some("text/xml; charset=utf-8"), b"<?xml version=\"1.0\"?><Document/>").expect("xml"),
            "application/xml"
        );
        assert_eq!(
            of_upload(Some("application/json"), br#"{"invoice":"2026-001"}"#).expect("json"),
            "application/json"
        );
        assert_eq!(of_upload(Some("TEXT/PLAIN"), b"packing list: 1,200 bags").expect("text"), "text/plain");
        let refused = |declared: Option<&str>, bytes: &[u8]| of_upload(declared, bytes).expect_err("refused").code;
        assert_eq!(refused(Some("text/html"), b"<p>bill of lading</p>"), "UNSUPPORTED_MEDIA_TYPE");
        assert_eq!(refused(Some("text/html"), b"plain words"), "UNSUPPORTED_MEDIA_TYPE");
        assert_eq!(refused(Some("application/pdf"), b"<html><script>alert(1)</script>"), "MEDIA_TYPE_MISMATCH");
        assert_eq!(refused(Some("text/plain"), b"<script>fetch('/v1/orders')</script>"), "MEDIA_TYPE_MISMATCH");
        assert_eq!(
            refused(Some("application/xml"), b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>"),
            "MEDIA_TYPE_MISMATCH"
        );
        assert_eq!(refused(Some("image/png"), b"%PDF-1.7"), "MEDIA_TYPE_MISMATCH");
        // XHTML under a prefix, past the first 512 bytes (found in review: a browser runs it
        // as a page wherever it sits); a style sheet that turns the XML into a page.
        let padding = format!("<Invoice><Note>{}</Note>", "x".repeat(600));
        let hidden = format!(
            "<?xml version=\"1.0\"?>{padding}<h:script xmlns:h=\"http://www.w3.org/1999/xhtml\">alert(1)</h:script></Invoice>"
        );
        assert_eq!(refused(Some("application/xml"), hidden.as_bytes()), "MEDIA_TYPE_MISMATCH");
        let styled = b"<?xml version=\"1.0\"?><?xml-stylesheet type=\"text/xsl\" href=\"x.xsl\"?><Invoice/>";
        assert_eq!(refused(Some("application/xml"), styled), "MEDIA_TYPE_MISMATCH");
        // The other side: a UBL invoice, namespaces and all, well past 512 bytes.
        let ubl = format!(
            "<?xml version=\"1.0\"?><Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\" \
             xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\">{padding}\
             <cbc:ID>2026-001</cbc:ID></Invoice>"
        );
        assert_eq!(of_upload(Some("application/xml"), ubl.as_bytes()).expect("ubl"), "application/xml");
        assert_eq!(refused(Some("application/json"), b"{not json"), "MEDIA_TYPE_MISMATCH");
        assert_eq!(refused(None, b"just bytes"), "UNSUPPORTED_MEDIA_TYPE");
        assert_eq!(served("text/html"), ("application/octet-stream", "bin"));
        assert_eq!(served("application/pdf"), ("application/pdf", "pdf"));
    }
}
