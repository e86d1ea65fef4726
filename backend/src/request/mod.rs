//! What a request carries besides its body, as extractors: its id, the
//! client's address and user agent, the merchant's or staff member's
//! session, the same-origin check, the `Idempotency-Key`. A handler names
//! what it needs in its arguments and gets plain values to hand to a
//! service, which never sees a header.
//!
//! This is the HTTP side of the house, with `routes/` above it: it reads
//! headers, cookies and the socket, and asks `auth`/`services` (never the
//! other way round) to look sessions up.

pub mod client;
pub mod id;
pub mod idempotency;
pub mod session;

pub use crate::auth::session::MerchantSession;
pub use crate::services::consent::ClientInfo;
pub use crate::services::staff::StaffSession;
pub use id::RequestId;
pub use idempotency::IdempotencyKey;
pub use session::{SameOrigin, SessionCookie};
