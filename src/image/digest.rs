//! The digests Glance records for image data: `checksum` (MD5) and
//! `os_hash_value` with `os_hash_algo`, computed while the bytes stream by.

use md5::Md5;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::error::Error;

pub enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    /// Glance's os_hash_algo names; others are refused.
    pub fn new(algo: &str) -> Result<Hasher, Error> {
        match algo {
            "md5" => Ok(Hasher::Md5(Md5::new())),
            "sha256" => Ok(Hasher::Sha256(Sha256::new())),
            "sha384" => Ok(Hasher::Sha384(Sha384::new())),
            "sha512" => Ok(Hasher::Sha512(Sha512::new())),
            other => Err(Error::InvalidInput(format!(
                "hash algorithm {other:?} is not supported (md5, sha256, sha384, sha512)"
            ))),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Hasher;

    #[test]
    fn known_digests() {
        let digest = |algo: &str| {
            let mut h = Hasher::new(algo).expect("supported");
            h.update(b"ab");
            h.update(b"c");
            h.hex()
        };
        assert_eq!(digest("md5"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            digest("sha256"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digest("sha512").starts_with("ddaf35a193617aba"));
        assert!(Hasher::new("crc32").is_err());
    }
}
