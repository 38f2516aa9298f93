//! An organisation's registered name is how every counterparty recognises it (in the
//! directory, on every order, in every payment's remittance): one that looks like another's
//! is how a stranger passes for a customer's bank. So a name is stored in Unicode NFC, may
//! hold no control, format or zero-width character (invisible, or reordering what is
//! shown), and is refused when it is confusable with a name already registered: the same
//! "skeleton" once case, compatibility forms, spacing, punctuation and the usual Latin,
//! Cyrillic and Greek look-alikes are set aside (after Unicode TR39's skeleton, on the
//! characters trade names use).

use unicode_normalization::UnicodeNormalization;

use crate::error::ApiError;

/// Longest name, in bytes of its NFC form (the contract stores it as given).
const MAX_BYTES: usize = 140;

/// The name as stored: trimmed, NFC; or why it is refused.
pub(crate) fn normalise(raw: &str) -> Result<String, ApiError> {
    let name: String = raw.trim().nfc().collect();
    if name.is_empty() || name.len() > MAX_BYTES {
        return Err(ApiError::validation("INVALID_NAME", format!("name must be 1 to {MAX_BYTES} bytes")));
    }
    if let Some(c) = name.chars().find(|c| invisible(*c)) {
        return Err(ApiError::validation(
            "INVALID_NAME",
            format!("name holds U+{:04X}, a control, format or zero-width character", u32::from(c)),
        ));
    }
    Ok(name)
}

/// Control characters, and format characters that show nothing or reorder what is shown
/// (zero-width spaces and joiners, bidirectional overrides and isolates, the BOM, the soft
/// hyphen, invisible operators, tag characters, variation selectors).
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(u32::from(c),
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Two names whose skeletons are equal read alike.
pub(crate) fn skeleton(name: &str) -> String {
    name.nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .map(fold)
        .collect::<String>()
        // Letter pairs that read as one letter.
        .replace("rn", "m")
        .replace("vv", "w")
}

/// A look-alike to the Latin letter (or digit) it passes for.
fn fold(c: char) -> char {
    match c {
        // Cyrillic
        'а' => 'a',
        'в' | 'ь' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' => 'e',
        'һ' => 'h',
        'ј' => 'j',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'ԝ' => 'w',
        // Greek
        'α' => 'a',
        'β' => 'b',
        'ε' => 'e',
        'η' => 'n',
        'κ' => 'k',
        'μ' => 'u',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        // Latin and digits that pass for another letter
        // i, I and l read alike in many typefaces (TR39 maps them so too).
        'i' | 'ı' | 'l' | '1' | '|' | 'і' | 'ї' | 'ӏ' | 'ι' => 'l',
        '0' => 'o',
        '5' => 's',
        'ɡ' => 'g',
        'ß' => 's',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_control_characters_are_refused_and_names_are_stored_nfc() {
        for bad in ["Handels\u{200B}bank", "Bank\u{0000}", "\u{202E}knabsledna", "Bank\u{FEFF}", "A\u{2063}B", ""] {
            assert!(normalise(bad).is_err(), "{bad:?}");
        }
        assert!(normalise(&"x".repeat(141)).is_err());
        // "é" as e + combining acute is stored as the single code point.
        assert_eq!(normalise("  Cafe\u{0301} do Brasil ").expect("valid"), "Caf\u{00E9} do Brasil");
        assert_eq!(normalise("Zürcher Kantonalbank").expect("valid"), "Zürcher Kantonalbank");
    }

    #[test]
    fn look_alikes_share_a_skeleton_and_different_names_do_not() {
        let real = skeleton("Deutsche Handelsbank AG");
        for fake in [
            "Deutsche Handelsbank AG",
            "DEUTSCHE HANDELSBANK AG",
            "Deutsche Handelsbank A.G.",
            "Deutsche  Handelsbank-AG",
            "Deutsсhe Handelsbank AG",         // Cyrillic с
            "Dеutsche Handelsbank AG",         // Cyrillic е
            "Deutsche HandeIsbank AG",         // capital I for l
            "Deutsche Hande1sbank AG",         // digit one
            "Ｄｅｕｔｓｃｈｅ Handelsbank AG", // fullwidth
        ] {
            assert_eq!(skeleton(fake), real, "{fake}");
        }
        assert_eq!(skeleton("Banco Paulista"), skeleton("Banco PauIista"));
        assert_eq!(skeleton("Modern Trading"), skeleton("Modem Trading"), "rn reads as m");
        assert_ne!(skeleton("Deutsche Handelsbank AG"), skeleton("Deutsche Handelsbank SA"));
        assert_ne!(skeleton("Nordic Trade Capital"), skeleton("Nordic Trade Capital 2"));
    }
}
