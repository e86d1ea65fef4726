//! The payload of a stall code: what a printed QR code says, before the
//! server's tag. A stall's URL is `<public URL>/s/<payload>.<tag>`, both parts
//! base64url without padding. The tag (HMAC-SHA256 over the raw payload bytes,
//! truncated to 128 bits) is made and checked on the server only; this module
//! only lays the bytes out, so the browser can route `/s/…` without trusting
//! anything in it.
//!
//! Layout (all integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version, [`FORMAT_VERSION`] |
//! | 1 | key id: which server key signed it |
//! | 1 | kind: 0 market-wide, 1 stall |
//! | 16 | market id (the 128 random bits of `mkt_<32 hex>`) |
//! | 16 | stall id, kind 1 only |
//! | 4 | the stall's code version, kind 1 only |
//!
//! Ids are carried as their 16 raw bytes rather than their text: the URL stays
//! about 75 characters, so the printed QR code stays low-density and scans
//! from a worn sticker.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const FORMAT_VERSION: u8 = 1;
/// Bytes of the tag kept from HMAC-SHA256's 32.
pub const TAG_LEN: usize = 16;

const KIND_MARKET: u8 = 0;
const KIND_STALL: u8 = 1;
const MARKET_LEN: usize = 3 + 16;
const STALL_LEN: usize = MARKET_LEN + 16 + 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeTarget {
    /// For individual businesses applying without a stall.
    MarketWide,
    Stall {
        stall_id: [u8; 16],
        /// Reprinting a stall's code raises the stall's version; codes with
        /// an older one are superseded.
        code_version: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePayload {
    pub key_id: u8,
    pub market_id: [u8; 16],
    pub target: CodeTarget,
}

/// Why a code could not even be read. The server answers all of these with
/// one `code_invalid`, so a forger learns nothing from the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeFormatError {
    /// Not `<payload>.<tag>`.
    Shape,
    /// A part is not canonical base64url.
    Encoding,
    /// Wrong length, version or kind.
    Layout,
}

impl CodePayload {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STALL_LEN);
        out.push(FORMAT_VERSION);
        out.push(self.key_id);
        match self.target {
            CodeTarget::MarketWide => {
                out.push(KIND_MARKET);
                out.extend_from_slice(&self.market_id);
            }
            CodeTarget::Stall {
                stall_id,
                code_version,
            } => {
                out.push(KIND_STALL);
                out.extend_from_slice(&self.market_id);
                out.extend_from_slice(&stall_id);
                out.extend_from_slice(&code_version.to_be_bytes());
            }
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, CodeFormatError> {
        if b.len() < MARKET_LEN || b[0] != FORMAT_VERSION {
            return Err(CodeFormatError::Layout);
        }
        let market_id: [u8; 16] = b[3..19].try_into().expect("length checked");
        let target = match (b[2], b.len()) {
            (KIND_MARKET, MARKET_LEN) => CodeTarget::MarketWide,
            (KIND_STALL, STALL_LEN) => CodeTarget::Stall {
                stall_id: b[19..35].try_into().expect("length checked"),
                code_version: u32::from_be_bytes(b[35..39].try_into().expect("length checked")),
            },
            _ => return Err(CodeFormatError::Layout),
        };
        Ok(Self {
            key_id: b[1],
            market_id,
            target,
        })
    }
}

/// Joins payload bytes and a tag into the text that follows `/s/`.
pub fn join(payload: &[u8], tag: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Splits a code into its payload bytes and tag bytes. The decoder refuses
/// non-canonical base64 (stray low bits), so every distinct string decodes to
/// distinct bytes: an edited code cannot keep a valid tag by re-spelling.
pub fn split(code: &str) -> Result<(Vec<u8>, Vec<u8>), CodeFormatError> {
    let (payload, tag) = code.split_once('.').ok_or(CodeFormatError::Shape)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| CodeFormatError::Encoding)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| CodeFormatError::Encoding)?;
    if tag.len() != TAG_LEN {
        return Err(CodeFormatError::Layout);
    }
    Ok((payload, tag))
}

/// The 16 random bytes inside an id such as `stl_<32 hex>`.
pub fn id_bytes(id: &str) -> Option<[u8; 16]> {
    let (_, hex) = id.split_once('_')?;
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The id text for a prefix and 16 bytes: the inverse of [`id_bytes`].
pub fn id_text(prefix: &str, bytes: &[u8; 16]) -> String {
    let mut s = String::with_capacity(prefix.len() + 33);
    s.push_str(prefix);
    s.push('_');
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKET: &str = "mkt_00112233445566778899aabbccddeeff";
    const STALL: &str = "stl_0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    fn stall_payload() -> CodePayload {
        CodePayload {
            key_id: 0x5a,
            market_id: id_bytes(MARKET).unwrap(),
            target: CodeTarget::Stall {
                stall_id: id_bytes(STALL).unwrap(),
                code_version: 3,
            },
        }
    }

    #[test]
    fn ids_round_trip_through_bytes() {
        let b = id_bytes(MARKET).unwrap();
        assert_eq!(b[0], 0x00);
        assert_eq!(b[15], 0xff);
        assert_eq!(id_text("mkt", &b), MARKET);
        assert_eq!(id_bytes("mkt_0011"), None);
        assert_eq!(id_bytes("mkt_zz112233445566778899aabbccddeeff"), None);
        assert_eq!(id_bytes("no-underscore"), None);
    }

    #[test]
    fn payload_round_trips() {
        let p = stall_payload();
        let bytes = p.to_bytes();
        assert_eq!(bytes.len(), 39);
        assert_eq!(CodePayload::from_bytes(&bytes), Ok(p));
        let m = CodePayload {
            target: CodeTarget::MarketWide,
            ..p
        };
        assert_eq!(m.to_bytes().len(), 19);
        assert_eq!(CodePayload::from_bytes(&m.to_bytes()), Ok(m));
    }

    #[test]
    fn payload_refuses_other_layouts() {
        let bytes = stall_payload().to_bytes();
        assert_eq!(
            CodePayload::from_bytes(&bytes[..38]),
            Err(CodeFormatError::Layout)
        );
        let mut wrong_version = bytes.clone();
        wrong_version[0] = 2;
        assert_eq!(
            CodePayload::from_bytes(&wrong_version),
            Err(CodeFormatError::Layout)
        );
        let mut wrong_kind = bytes;
        wrong_kind[2] = KIND_MARKET;
        assert_eq!(
            CodePayload::from_bytes(&wrong_kind),
            Err(CodeFormatError::Layout)
        );
    }

    #[test]
    fn code_text_is_short_and_splits_back() {
        let payload = stall_payload().to_bytes();
        let tag = [7u8; TAG_LEN];
        let code = join(&payload, &tag);
        assert!(code.len() <= 75, "{} chars", code.len());
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(split(&code), Ok((payload, tag.to_vec())));
    }

    #[test]
    fn split_refuses_malformed_codes() {
        let code = join(&stall_payload().to_bytes(), &[7u8; TAG_LEN]);
        assert_eq!(split(&code.replace('.', "")), Err(CodeFormatError::Shape));
        assert_eq!(
            split(&code[..code.len() - 1]),
            Err(CodeFormatError::Encoding)
        );
        assert_eq!(split(&format!("{code}=")), Err(CodeFormatError::Encoding));
        // The tag's last character carries 4 unused bits; setting them is a
        // different string for the same bytes, and must not be accepted.
        let last = code.chars().last().unwrap();
        assert_eq!(last, 'w');
        let respelled = format!("{}x", &code[..code.len() - 1]);
        assert_eq!(split(&respelled), Err(CodeFormatError::Encoding));
        let short_tag = join(&stall_payload().to_bytes(), &[7u8; 8]);
        assert_eq!(split(&short_tag), Err(CodeFormatError::Layout));
    }
}
