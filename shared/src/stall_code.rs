//! The payload of a stall code: what a printed QR code says, before the
//! server's tag. The tag (HMAC-SHA256 over the raw payload bytes, truncated)
//! is made and checked on the server only; this module only lays the bytes
//! out, so the browser can route `/S/…` and `/s/…` without trusting anything
//! in them.
//!
//! Two formats are read; new codes are printed in the compact one.
//!
//! **Compact (format 2)**, `<public URL>/S/<CODE>`: CODE is upper-case base32
//! (RFC 4648, no padding) of the payload followed by a 96-bit tag. Upper-case
//! letters, digits, `/`, `:` and `.` are all in the QR code's alphanumeric
//! mode (5.5 bits a character instead of 8), and the payload names the stall
//! by the first 64 of its id's 128 random bits, so the URL is about 60
//! characters and the printed code fits QR version 4 at error-correction
//! level Q (a quarter of it may be lost). Layout:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | `0x20` + kind (0 market-wide, 1 stall) |
//! | 1 | key id: which server key signed it |
//! | 8 | the first 8 bytes of the market's id (market-wide) or the stall's id |
//! | 1–5 | the stall's code version, LEB128 (stall codes only) |
//!
//! **Legacy (format 1)**, `<public URL>/s/<payload>.<tag>`, both base64url
//! without padding, tag 128 bits; still honoured until a stall's code is
//! reissued. Layout (integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version, [`FORMAT_VERSION`] |
//! | 1 | key id |
//! | 1 | kind: 0 market-wide, 1 stall |
//! | 16 | market id (the 128 random bits of `mkt_<32 hex>`) |
//! | 16 | stall id, kind 1 only |
//! | 4 | the stall's code version, kind 1 only |

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const FORMAT_VERSION: u8 = 1;
/// Bytes of the legacy tag kept from HMAC-SHA256's 32.
pub const TAG_LEN: usize = 16;

/// The path before a compact code, and before a legacy one.
pub const COMPACT_PATH: &str = "/S/";
pub const LEGACY_PATH: &str = "/s/";
/// Bytes of the compact tag kept from HMAC-SHA256's 32. Every guess costs a
/// request to the server (and an audit row), so 2^96 is out of reach.
pub const COMPACT_TAG_LEN: usize = 12;
/// Bytes of an id a compact code carries.
pub const ID_PREFIX_LEN: usize = 8;
const COMPACT_VERSION: u8 = 2;

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

/// What a compact code names. Ids are cut to [`ID_PREFIX_LEN`] bytes: the
/// tag, not the id, makes a code unforgeable, and 64 random bits tell apart
/// every stall a county will ever have (the server refuses a prefix that
/// matches two rows rather than guess).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactTarget {
    MarketWide {
        market_prefix: [u8; ID_PREFIX_LEN],
    },
    Stall {
        stall_prefix: [u8; ID_PREFIX_LEN],
        code_version: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactPayload {
    pub key_id: u8,
    pub target: CompactTarget,
}

impl CompactPayload {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + ID_PREFIX_LEN + 5);
        match self.target {
            CompactTarget::MarketWide { market_prefix } => {
                out.extend_from_slice(&[COMPACT_VERSION << 4 | KIND_MARKET, self.key_id]);
                out.extend_from_slice(&market_prefix);
            }
            CompactTarget::Stall {
                stall_prefix,
                code_version,
            } => {
                out.extend_from_slice(&[COMPACT_VERSION << 4 | KIND_STALL, self.key_id]);
                out.extend_from_slice(&stall_prefix);
                // LEB128: a stall reprinted fewer than 128 times costs one byte.
                let mut v = code_version;
                loop {
                    let low = (v & 0x7f) as u8;
                    v >>= 7;
                    if v == 0 {
                        out.push(low);
                        break;
                    }
                    out.push(low | 0x80);
                }
            }
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, CodeFormatError> {
        const HEAD: usize = 2 + ID_PREFIX_LEN;
        if b.len() < HEAD || b[0] >> 4 != COMPACT_VERSION {
            return Err(CodeFormatError::Layout);
        }
        let prefix: [u8; ID_PREFIX_LEN] = b[2..HEAD].try_into().expect("length checked");
        let target = match (b[0] & 0x0f, &b[HEAD..]) {
            (KIND_MARKET, []) => CompactTarget::MarketWide {
                market_prefix: prefix,
            },
            (KIND_STALL, rest) => CompactTarget::Stall {
                stall_prefix: prefix,
                code_version: read_leb128(rest)?,
            },
            _ => return Err(CodeFormatError::Layout),
        };
        Ok(Self {
            key_id: b[1],
            target,
        })
    }
}

/// A whole, minimal LEB128 `u32`: one spelling per number, nothing after it.
fn read_leb128(b: &[u8]) -> Result<u32, CodeFormatError> {
    let mut value: u64 = 0;
    for (i, &byte) in b.iter().enumerate() {
        if i >= 5 {
            return Err(CodeFormatError::Layout);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let minimal = i == 0 || byte != 0;
            return match (i + 1 == b.len() && minimal, u32::try_from(value)) {
                (true, Ok(v)) => Ok(v),
                _ => Err(CodeFormatError::Layout),
            };
        }
    }
    Err(CodeFormatError::Layout)
}

/// Joins compact payload bytes and a tag into the text that follows `/S/`.
pub fn join_compact(payload: &[u8], tag: &[u8]) -> String {
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(tag);
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

/// Splits a compact code into payload bytes and tag bytes. Only upper-case,
/// canonical base32 is read (no stray low bits), so every distinct string is
/// distinct bytes.
pub fn split_compact(code: &str) -> Result<(Vec<u8>, Vec<u8>), CodeFormatError> {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(code.as_bytes())
        .map_err(|_| CodeFormatError::Encoding)?;
    if bytes.len() <= COMPACT_TAG_LEN {
        return Err(CodeFormatError::Layout);
    }
    let (payload, tag) = bytes.split_at(bytes.len() - COMPACT_TAG_LEN);
    Ok((payload.to_vec(), tag.to_vec()))
}

/// The code in a stall URL (or a path): what follows its last `/S/` or `/s/`.
pub fn code_in_url(url: &str) -> Option<&str> {
    let compact = url.rfind(COMPACT_PATH);
    let legacy = url.rfind(LEGACY_PATH);
    let at = compact.max(legacy)?;
    Some(&url[at + COMPACT_PATH.len()..])
}

/// `<public URL>/S/<code>` as a QR code should carry it: scheme and host in
/// upper case (both are case-insensitive), so the whole URL is QR
/// alphanumeric text. A public URL with a path keeps its case, since a path
/// is case-sensitive; the QR encoder then switches mode for that part only.
pub fn qr_text(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    let (host, path) = rest.split_at(host_end);
    let path_is_ours = path
        .strip_prefix(COMPACT_PATH)
        .is_some_and(|c| !c.contains('/'));
    if path_is_ours {
        format!(
            "{}://{}{path}",
            scheme.to_ascii_uppercase(),
            host.to_ascii_uppercase()
        )
    } else {
        url.to_owned()
    }
}

/// The first [`ID_PREFIX_LEN`] bytes of an id such as `stl_<32 hex>`.
pub fn id_prefix(id: &str) -> Option<[u8; ID_PREFIX_LEN]> {
    let bytes = id_bytes(id)?;
    Some(bytes[..ID_PREFIX_LEN].try_into().expect("16 > 8"))
}

/// `<prefix>_<16 hex>`: the start every id with this prefix shares.
pub fn id_prefix_text(prefix: &str, bytes: &[u8; ID_PREFIX_LEN]) -> String {
    let mut s = String::with_capacity(prefix.len() + 1 + 2 * ID_PREFIX_LEN);
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
    fn compact_stall() -> CompactPayload {
        CompactPayload {
            key_id: 0x5a,
            target: CompactTarget::Stall {
                stall_prefix: id_prefix(STALL).unwrap(),
                code_version: 3,
            },
        }
    }

    #[test]
    fn compact_payload_round_trips() {
        for version in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut p = compact_stall();
            p.target = CompactTarget::Stall {
                stall_prefix: id_prefix(STALL).unwrap(),
                code_version: version,
            };
            let bytes = p.to_bytes();
            assert_eq!(CompactPayload::from_bytes(&bytes), Ok(p), "{version}");
        }
        assert_eq!(compact_stall().to_bytes().len(), 11);
        let wide = CompactPayload {
            key_id: 1,
            target: CompactTarget::MarketWide {
                market_prefix: id_prefix(MARKET).unwrap(),
            },
        };
        assert_eq!(wide.to_bytes().len(), 10);
        assert_eq!(CompactPayload::from_bytes(&wide.to_bytes()), Ok(wide));
    }

    #[test]
    fn compact_payload_refuses_other_layouts() {
        let bytes = compact_stall().to_bytes();
        let refused = |b: &[u8]| CompactPayload::from_bytes(b) == Err(CodeFormatError::Layout);
        assert!(refused(&bytes[..10]), "no version");
        assert!(
            refused(&[bytes.as_slice(), &[0]].concat()),
            "a byte after the version"
        );
        // 3 spelled in two bytes: the same number, another string.
        assert!(refused(&[&bytes[..10], &[0x83, 0x00][..]].concat()));
        // More than 32 bits.
        assert!(refused(
            &[&bytes[..10], &[0xff, 0xff, 0xff, 0xff, 0x1f][..]].concat()
        ));
        assert!(refused(&[&bytes[..10], &[0x80; 6][..]].concat()));
        let mut legacy_version = bytes.clone();
        legacy_version[0] = 0x11;
        assert!(refused(&legacy_version));
        let mut other_kind = bytes.clone();
        other_kind[0] = 0x22;
        assert!(refused(&other_kind));
        // A market-wide code has nothing after the prefix.
        let mut wide_with_version = bytes;
        wide_with_version[0] = 0x20;
        assert!(refused(&wide_with_version));
    }

    #[test]
    fn compact_code_is_short_upper_case_and_splits_back() {
        let payload = compact_stall().to_bytes();
        let tag = [7u8; COMPACT_TAG_LEN];
        let code = join_compact(&payload, &tag);
        assert_eq!(code.len(), 37);
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(split_compact(&code), Ok((payload, tag.to_vec())));
        assert_eq!(
            split_compact(&code.to_ascii_lowercase()),
            Err(CodeFormatError::Encoding)
        );
        assert_eq!(split_compact("AAAAAAAA"), Err(CodeFormatError::Layout));
        assert_eq!(split_compact("ABC.DEF"), Err(CodeFormatError::Encoding));
    }

    #[test]
    fn compact_code_refuses_a_respelled_last_character() {
        let code = join_compact(&compact_stall().to_bytes(), &[7u8; COMPACT_TAG_LEN]);
        let decoded = split_compact(&code).unwrap();
        // 23 bytes are 184 bits in 37 characters (185 bits): setting the
        // unused last bit must not give another spelling of the same bytes.
        let last = code.chars().last().unwrap();
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .chars()
            .filter(|&c| c != last)
        {
            let other = format!("{}{c}", &code[..code.len() - 1]);
            assert_ne!(split_compact(&other).ok(), Some(decoded.clone()), "{other}");
        }
    }

    #[test]
    fn finds_the_code_in_either_url() {
        assert_eq!(code_in_url("https://x.cn/S/ABC234"), Some("ABC234"));
        assert_eq!(code_in_url("HTTPS://X.CN/S/ABC234"), Some("ABC234"));
        assert_eq!(code_in_url("http://x/s/AbC-_.xyz"), Some("AbC-_.xyz"));
        assert_eq!(code_in_url("/S/QQ"), Some("QQ"));
        assert_eq!(code_in_url("http://x/other"), None);
    }

    #[test]
    fn qr_text_is_upper_case_only_where_case_does_not_matter() {
        assert_eq!(
            qr_text("https://mc.yixing.gov.cn/S/ABC234"),
            "HTTPS://MC.YIXING.GOV.CN/S/ABC234"
        );
        assert_eq!(
            qr_text("http://127.0.0.1:8080/S/ABC234"),
            "HTTP://127.0.0.1:8080/S/ABC234"
        );
        // A path prefix is case-sensitive; so is a legacy code.
        assert_eq!(
            qr_text("https://gov.cn/market/S/ABC234"),
            "https://gov.cn/market/S/ABC234"
        );
        assert_eq!(qr_text("http://x/s/Ab.cd"), "http://x/s/Ab.cd");
    }

    #[test]
    fn id_prefixes_are_the_first_half_of_the_id() {
        let p = id_prefix(STALL).unwrap();
        assert_eq!(id_prefix_text("stl", &p), &STALL[..4 + 16]);
        assert_eq!(id_prefix("stl_0011"), None);
    }
}
