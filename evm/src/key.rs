//! secp256k1 keys for EVM verdicts: the secret key file is `0x` + 64 hex characters (the
//! Ethereum convention; an Ed25519 key file is bare hex, so neither kind passes for the
//! other), the public file is the checksummed address.

use alloy_primitives::{Address, Signature, B256};
use alloy_signer::k256::ecdsa::SigningKey;

use crate::verdict::{MarginVerdict, SignedVerdict};

/// A secp256k1 secret key that signs verdicts.
#[derive(Clone)]
pub struct EvmKey(SigningKey);

impl std::fmt::Debug for EvmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EvmKey({})", self.address())
    }
}

impl EvmKey {
    /// The key with this 32-byte secret; `None` when it is not a valid scalar (zero or
    /// not below the group order).
    pub fn from_bytes(secret: &[u8; 32]) -> Option<EvmKey> {
        SigningKey::from_slice(secret).ok().map(EvmKey)
    }

    /// A fresh key from `random`, called until it gives a valid scalar (almost always the
    /// first time).
    pub fn generate(mut random: impl FnMut() -> [u8; 32]) -> EvmKey {
        loop {
            if let Some(key) = EvmKey::from_bytes(&random()) {
                return key;
            }
        }
    }

    /// Reads a key file's text: `0x` and 64 hex characters, surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<EvmKey, String> {
        let bytes: [u8; 32] = text
            .trim()
            .strip_prefix("0x")
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or("not a secp256k1 secret key: expected 0x and 64 hex characters (as `keygen --scheme secp256k1` writes)")?;
        EvmKey::from_bytes(&bytes).ok_or_else(|| "not a secp256k1 secret key: the value is not below the group order".to_string())
    }

    /// The key file's text: `0x` and 64 hex characters.
    pub fn to_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0.to_bytes()))
    }

    /// The key's EVM address.
    pub fn address(&self) -> Address {
        Address::from_private_key(&self.0)
    }

    /// Signs a 32-byte digest: RFC 6979 (deterministic: the same digest, the same bytes),
    /// s in the lower half of the order, as OpenZeppelin's ECDSA requires.
    pub fn sign_hash(&self, hash: &B256) -> Signature {
        let (sig, recid) = self.0.sign_prehash_recoverable(hash.as_slice()).expect("a 32-byte prehash always signs");
        Signature::from((sig, recid))
    }

    /// Signs `verdict` for the registry at `registry` on chain `chain_id`.
    pub fn sign_verdict(&self, verdict: MarginVerdict, chain_id: u64, registry: Address) -> SignedVerdict {
        let hash = verdict.signing_hash(&crate::verdict::domain(chain_id, registry));
        SignedVerdict { chain_id, registry, verdict, signer: self.address(), signature: self.sign_hash(&hash).as_bytes() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_and_addresses() {
        // The well-known first development key (Hardhat/Anvil account 0).
        let key = EvmKey::parse("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n").unwrap();
        assert_eq!(key.address().to_checksum(None), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(EvmKey::parse(&key.to_hex()).unwrap().address(), key.address());
        // An Ed25519 key file (bare hex) is refused, as are the zero scalar and the order.
        assert!(EvmKey::parse(&"ab".repeat(32)).unwrap_err().contains("0x and 64 hex"));
        assert!(EvmKey::parse(&format!("0x{}", "00".repeat(32))).is_err());
        assert!(EvmKey::parse("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").is_err());
        let mut calls = 0;
        let fresh = EvmKey::generate(|| {
            calls += 1;
            if calls == 1 { [0; 32] } else { [3; 32] }
        });
        assert_eq!(calls, 2);
        assert_eq!(fresh.address(), EvmKey::from_bytes(&[3; 32]).unwrap().address());
    }

    /// The README's test vector, signed by the well-known development key above.
    #[test]
    fn test_vector_signature() {
        let key = EvmKey::parse("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80").unwrap();
        let (verdict, chain_id, registry) = crate::verdict::test_vector();
        let domain = crate::verdict::domain(chain_id, registry);
        let signed = key.sign_verdict(verdict, chain_id, registry);
        assert_eq!(hex::encode(domain.separator()), "e7ac7ea196def9af6e0cff75591c6381014d75a1cfc6b30df44b923a53b7a0ba");
        assert_eq!(hex::encode(signed.signing_hash()), "e07106989234bdcad6e6842db666d3b90c2d7545270f0b1cb3f12ab6d5d6cea3");
        assert_eq!(
            hex::encode(signed.signature),
            "41b0b18a5946d7233f653b4362d16da3b0205269e407e1662817777c25de2ff8330abe9a9c24fbd3b3e4f0576c9893c616822424da821cb357f638a388df20f51c"
        );
    }

    #[test]
    fn signing_is_deterministic_and_low_s() {
        let key = EvmKey::from_bytes(&[42; 32]).unwrap();
        let half_order = alloy_primitives::U256::from_be_slice(&hex::decode("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0").unwrap());
        for i in 0..32u8 {
            let hash = B256::from([i; 32]);
            let a = key.sign_hash(&hash);
            assert_eq!(a, key.sign_hash(&hash));
            assert!(a.s() <= half_order);
            assert!(matches!(a.as_bytes()[64], 27 | 28));
            assert_eq!(a.recover_address_from_prehash(&hash).unwrap(), key.address());
        }
    }
}
