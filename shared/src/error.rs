//! The one error body every API failure renders as.

use serde::{Deserialize, Serialize};

/// JSON body of every non-2xx API response.
///
/// `code` is stable and machine-readable (clients branch on it); the two
/// messages are for people. `fields` names the request fields at fault so the
/// UI can show each message next to its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name as it appears in the request JSON.
    pub field: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message_zh: &str, message_en: &str) -> Self {
        Self {
            field: field.to_owned(),
            code: code.to_owned(),
            message_zh: message_zh.to_owned(),
            message_en: message_en.to_owned(),
        }
    }
}
