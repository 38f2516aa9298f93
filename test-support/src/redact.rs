//! Volatile values out of what snapshots and comparisons read: addresses, hashes and order
//! numbers differ between runs and between nodes; the rest must not.

/// Replace every 0x-address (40 hex digits) with `[address]` and every 0x-hash (64) with
/// `[hash]`; other hex stays (an error's short revert data, say).
#[must_use]
pub fn hex(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'0' && i + 1 < b.len() && b[i + 1] == b'x' {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            let placeholder = match j - i - 2 {
                40 => Some("[address]"),
                64 => Some("[hash]"),
                _ => None,
            };
            if let Some(p) = placeholder {
                out.push_str(p);
                i = j;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Replace every 0x-value of 8 or more hex digits with `[hex]` (a timeline's addresses,
/// hashes and references).
#[must_use]
pub fn long_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(tail.len());
        out.push_str(if n >= 8 { "[hex]" } else { &rest[i..i + 2 + n] });
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}

/// Replace every run of 5 or more decimal digits with `[n]`: day numbers and timestamps in
/// error messages move with the day a test runs.
#[must_use]
pub fn long_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        out.push_str(if digits.len() >= 5 { "[n]" } else { digits });
        digits.clear();
    };
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            flush(&mut digits, &mut out);
            out.push(ch);
        }
    }
    flush(&mut digits, &mut out);
    out
}

/// Hide what differs between nodes and runs in a timeline: long hex ([`long_hex`]) and
/// order numbers (`(#12` → `(#N`: a node that already holds orders numbers new ones after
/// them); trailing blank space trimmed.
#[must_use]
pub fn timeline(s: &str) -> String {
    let redacted = long_hex(s);
    let mut out = String::with_capacity(redacted.len());
    let mut rest = redacted.as_str();
    while let Some(i) = rest.find("(#") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 2..];
        let n = tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len());
        out.push_str("(#N");
        rest = &tail[n..];
    }
    out.push_str(rest);
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_hashes_become_placeholders_and_short_hex_stays() {
        let a = format!("0x{}", "ab".repeat(20));
        let h = format!("0x{}", "cd".repeat(32));
        assert_eq!(hex(&format!("{a} paid {h} 0x1f é")), "[address] paid [hash] 0x1f é");
        assert_eq!(long_hex("ref 0xdeadbeef1 and 0x12"), "ref [hex] and 0x12");
        assert_eq!(long_numbers("day 20818 of 1234 and 12345"), "day [n] of 1234 and [n]");
        assert_eq!(timeline("order (#12) ok (#3)\n\n"), "order (#N) ok (#N)");
        assert_eq!(timeline("order o (#12): paid 0xdeadbeefdeadbeef 0x12 #3"), "order o (#N): paid [hex] 0x12 #3");
        assert_eq!(long_hex("a 0x1234 → 0xdeadbeefdeadbeef z"), "a 0x1234 → [hex] z");
    }
}
