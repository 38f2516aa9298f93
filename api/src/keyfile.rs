//! Keys an operator moves to other tools: the Web3 Secret Storage format (version 3, the
//! "keystore JSON" geth, ethers, web3.py, MetaMask and Besu read), scrypt and AES-128-CTR
//! with a keccak-256 MAC. A custodial organisation that takes its key into its own custody,
//! or an operator moving a key to a hardware wallet's tooling, exports it this way
//! (`tradechain key-export`); the node itself keeps keys sealed under its master key
//! ([`crate::keystore`]), which costs no KDF at every start.

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::primitives::keccak256;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};

use crate::keystore::random_bytes;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// scrypt cost of an exported file: N = 2^15, r = 8, p = 1 (32 MiB a guess); every reader
/// takes the parameters from the file.
const LOG_N: u8 = 15;

/// Why a key file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Not version 3 with scrypt and aes-128-ctr, or a field missing or malformed.
    #[error("not a Web3 Secret Storage v3 file with scrypt and aes-128-ctr: {0}")]
    Format(String),
    /// The passphrase does not open it (the MAC differs).
    #[error("wrong passphrase (the MAC does not match)")]
    WrongPassphrase,
}

fn derive(passphrase: &str, salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32], KeyFileError> {
    let params = scrypt::Params::new(log_n, r, p, 32).map_err(|e| KeyFileError::Format(format!("kdfparams: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(passphrase.as_bytes(), salt, &params, &mut key)
        .map_err(|e| KeyFileError::Format(format!("scrypt: {e}")))?;
    Ok(key)
}

/// `signer`'s key as a version 3 key file under `passphrase`.
pub fn encrypt(signer: &PrivateKeySigner, passphrase: &str) -> Result<Value, KeyFileError> {
    let (salt, iv) = (random_bytes::<32>(), random_bytes::<16>());
    let derived = derive(passphrase, &salt, LOG_N, 8, 1)?;
    let mut ciphertext = signer.to_bytes().to_vec();
    Aes128Ctr::new(derived[..16].into(), &iv.into()).apply_keystream(&mut ciphertext);
    let mac = keccak256([&derived[16..], &ciphertext[..]].concat());
    let mut id = random_bytes::<16>();
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let h = hex::encode(id);
    Ok(json!({
        "address": hex::encode(signer.address()),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(iv) },
            "ciphertext": hex::encode(&ciphertext),
            "kdf": "scrypt",
            "kdfparams": { "dklen": 32, "n": 1u32 << LOG_N, "r": 8, "p": 1, "salt": hex::encode(salt) },
            "mac": hex::encode(mac),
        },
        "id": format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]),
        "version": 3,
    }))
}

/// The key in a version 3 key file (scrypt, aes-128-ctr), opened with `passphrase`.
pub fn decrypt(file: &Value, passphrase: &str) -> Result<PrivateKeySigner, KeyFileError> {
    let format = |what: &str| KeyFileError::Format(what.to_string());
    if file["version"].as_u64() != Some(3) {
        return Err(format("version is not 3"));
    }
    let c = file.get("crypto").or_else(|| file.get("Crypto")).ok_or_else(|| format("no crypto"))?;
    if c["cipher"] != "aes-128-ctr" || c["kdf"] != "scrypt" {
        return Err(format("cipher or kdf"));
    }
    let hex_field = |v: &Value, name: &str| {
        v.as_str().and_then(|s| hex::decode(s.trim_start_matches("0x")).ok()).ok_or_else(|| format(name))
    };
    let k = &c["kdfparams"];
    let n = k["n"].as_u64().filter(|n| n.is_power_of_two() && *n > 1).ok_or_else(|| format("n"))?;
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| format("n"))?;
    let r = k["r"].as_u64().and_then(|r| u32::try_from(r).ok()).ok_or_else(|| format("r"))?;
    let p = k["p"].as_u64().and_then(|p| u32::try_from(p).ok()).ok_or_else(|| format("p"))?;
    if k["dklen"].as_u64() != Some(32) {
        return Err(format("dklen"));
    }
    let salt = hex_field(&k["salt"], "salt")?;
    let iv: [u8; 16] = hex_field(&c["cipherparams"]["iv"], "iv")?.try_into().map_err(|_| format("iv"))?;
    let mut ciphertext = hex_field(&c["ciphertext"], "ciphertext")?;
    let mac = hex_field(&c["mac"], "mac")?;
    let derived = derive(passphrase, &salt, log_n, r, p)?;
    if keccak256([&derived[16..], &ciphertext[..]].concat()).as_slice() != mac.as_slice() {
        return Err(KeyFileError::WrongPassphrase);
    }
    Aes128Ctr::new(derived[..16].into(), &iv.into()).apply_keystream(&mut ciphertext);
    PrivateKeySigner::from_slice(&ciphertext).map_err(|e| format(&format!("key: {e}")))
}

/// For the CLI (`tradechain key-export --org NAME`): the custodial key of the organisation
/// named `name`, opened with the node's master key, as a version 3 key file under
/// `passphrase`.
pub async fn export_for_org(
    config: &crate::ApiConfig,
    name: &str,
    passphrase: &str,
) -> Result<Value, crate::error::ApiError> {
    use crate::error::ApiError;
    use crate::readmodel::member;
    use sea_orm::EntityTrait;
    if passphrase.chars().count() < 12 {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            "the key file's passphrase must be at least 12 characters",
        ));
    }
    let keystore = crate::keystore::Keystore::new(config.master_key().map_err(|e| ApiError::internal(e.to_string()))?);
    let db = crate::readmodel::connect(&config.database_url()).await?;
    crate::readmodel::migrate(&db).await?;
    let org = crate::auth::organisation_named(&db, name).await?;
    let sealed = member::Entity::find_by_id(org.address.clone())
        .one(&db)
        .await?
        .and_then(|m| m.key_ciphertext)
        .ok_or_else(|| ApiError::conflict("NON_CUSTODIAL", format!("the node holds no key for {name:?}")))?;
    db.close().await.ok();
    let address = org.address.parse().map_err(ApiError::internal)?;
    let signer = keystore.open(address, &sealed).map_err(ApiError::internal)?;
    encrypt(&signer, passphrase).map_err(ApiError::internal)
}

/// For the CLI (`tradechain master-key-rotate`, the node stopped): re-seal every custodial
/// key and every registry key of the read model under the master key `new` gives, opening
/// them with the one `old` gives; then the check value. A passphrase-derived new key gets a
/// fresh salt. All rows change in one transaction: a failure leaves the old key in force.
/// Returns how many secrets were re-sealed.
pub async fn rotate_master_key(
    old: &crate::ApiConfig,
    new: &crate::ApiConfig,
) -> Result<usize, crate::error::ApiError> {
    use crate::error::ApiError;
    use crate::keystore::Keystore;
    use crate::readmodel::{member, registry_key};
    use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
    let keys = |e: crate::StartError| ApiError::internal(e.to_string());
    let old_key = old.master_key().map_err(keys)?;
    let salt = new.data_dir.join("master.salt");
    let fresh_salt = new.master_passphrase.is_some() || new.master_passphrase_file.is_some();
    let kept_salt = std::fs::read(&salt).ok();
    if fresh_salt {
        let _ = std::fs::remove_file(&salt);
    }
    let new_key = new.master_key().map_err(keys)?;
    let (from, to) = (Keystore::new(old_key), Keystore::new(new_key));
    let db = crate::readmodel::connect(&old.database_url()).await?;
    crate::readmodel::migrate(&db).await?;
    let txn = db.begin().await?;
    let mut count = 0;
    let result: Result<(), ApiError> = async {
        for m in member::Entity::find().all(&txn).await? {
            let Some(sealed) = m.key_ciphertext.clone() else { continue };
            let address = m.address.parse().map_err(ApiError::internal)?;
            let signer = from.open(address, &sealed).map_err(|e| ApiError::internal(format!("{}: {e}", m.address)))?;
            let resealed = to.seal(&signer).map_err(ApiError::internal)?;
            let row = member::ActiveModel {
                address: Set(m.address),
                key_ciphertext: Set(Some(resealed)),
                ..Default::default()
            };
            member::Entity::update(row).exec(&txn).await?;
            count += 1;
        }
        for k in registry_key::Entity::find().all(&txn).await? {
            let label = format!("tradechain registry key v{}", k.version).into_bytes();
            let secret = from
                .open_secret(&label, &k.sealed)
                .map_err(|e| ApiError::internal(format!("registry key v{}: {e}", k.version)))?;
            let row = registry_key::ActiveModel {
                version: Set(k.version),
                sealed: Set(to.seal_secret(&label, &secret).map_err(ApiError::internal)?),
                ..Default::default()
            };
            registry_key::Entity::update(row).exec(&txn).await?;
            count += 1;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => txn.commit().await?,
        Err(e) => {
            txn.rollback().await?;
            if let (true, Some(bytes)) = (fresh_salt, kept_salt) {
                let _ = std::fs::remove_file(&salt);
                let _ = tradechain_engine::config::write_private(&salt, &bytes);
            }
            return Err(e);
        }
    }
    db.close().await.ok();
    let check = new.data_dir.join("master.check");
    let _ = std::fs::remove_file(&check);
    let sealed = to.seal_secret(b"tradechain master key check", &[0u8; 32]).map_err(ApiError::internal)?;
    tradechain_engine::config::write_private(&check, sealed.as_bytes()).map_err(ApiError::internal)?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_opens_with_its_passphrase_only() {
        let signer = PrivateKeySigner::random();
        let file = encrypt(&signer, "correct horse battery staple").expect("encrypt");
        assert_eq!(file["address"], hex::encode(signer.address()));
        let back = decrypt(&file, "correct horse battery staple").expect("decrypt");
        assert_eq!(back.address(), signer.address());
        assert!(matches!(decrypt(&file, "wrong horse"), Err(KeyFileError::WrongPassphrase)));
        let mut tampered = file.clone();
        tampered["crypto"]["ciphertext"] = json!("00".repeat(32));
        assert!(matches!(decrypt(&tampered, "correct horse battery staple"), Err(KeyFileError::WrongPassphrase)));
    }
}
