//! A revert's custom error, as a stable code a client can branch on and a message a
//! person can read: `NotOrderBuyer(0xab…)` becomes code `NOT_ORDER_BUYER` and message
//! `NotOrderBuyer(caller: 0xab…)`.

use std::sync::LazyLock;

use alloy::dyn_abi::{DynSolValue, JsonAbiExt};
use alloy::json_abi::{Error, JsonAbi};

/// A decoded custom error of the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Revert {
    /// The Solidity error name, e.g. `NotOrderBuyer`.
    pub name: String,
    /// The stable code, e.g. `NOT_ORDER_BUYER`.
    pub code: String,
    /// The error with its named arguments, e.g. `NotOrderBuyer(caller: 0x…)`.
    pub message: String,
    /// The decoded arguments, in the error's declaration order.
    pub args: Vec<DynSolValue>,
}

static ERRORS: LazyLock<Vec<Error>> = LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Artifact {
        abi: JsonAbi,
    }
    // The artifact is compiled into the binary and checked by this crate's tests, so a
    // parse failure here is a build defect, not input.
    let artifact: Artifact =
        serde_json::from_str(crate::artifacts::ERRORS).expect("committed TradechainErrors artifact parses");
    artifact.abi.errors().cloned().collect()
});

/// Every custom error of the suite (name and signature), e.g. for an API's error list.
pub fn all() -> impl Iterator<Item = &'static Error> {
    ERRORS.iter()
}

/// `NotOrderBuyer` → `NOT_ORDER_BUYER`.
pub fn code_of(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// Decodes revert data into the suite's custom error, or `None` when the data is not one
/// of them (an empty revert, a panic, a string `Error(…)`, or garbage).
pub fn decode(data: &[u8]) -> Option<Revert> {
    if data.len() < 4 {
        return None;
    }
    let error = ERRORS.iter().find(|e| e.selector().as_slice() == &data[..4])?;
    let args = error.abi_decode_input(&data[4..]).ok()?;
    let rendered: Vec<String> =
        error.inputs.iter().zip(&args).map(|(param, value)| format!("{}: {}", param.name, render(value))).collect();
    Some(Revert {
        name: error.name.clone(),
        code: code_of(&error.name),
        message: format!("{}({})", error.name, rendered.join(", ")),
        args,
    })
}

fn render(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::FixedBytes(word, size) => {
            let bytes = &word[..*size];
            // Currency codes and Incoterms are bytes3 of ASCII letters: show them as text.
            if *size == 3 && bytes.iter().all(u8::is_ascii_alphanumeric) {
                String::from_utf8_lossy(bytes).into_owned()
            } else {
                format!("0x{}", alloy::hex::encode(bytes))
            }
        }
        other => format!("{other:?}"),
    }
}
