//! Sending SMS. Production plugs a gateway in behind [`SmsSender`]; the
//! development sender appends each message to `data/sms-outbox.jsonl`, which
//! the end-to-end tests (and a developer) read to learn the code.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

pub struct SmsMessage<'a> {
    /// 11 digits.
    pub mobile: &'a str,
    /// The one-time code inside `text`, given separately so that a sender
    /// can keep it out of its logs.
    pub code: &'a str,
    pub text: String,
}

/// Blocking: called from the database's blocking pool, so a gateway client
/// may block too.
pub trait SmsSender: Send + Sync + 'static {
    fn send(&self, message: &SmsMessage<'_>) -> Result<(), String>;
}

/// The text of a login code message.
pub fn login_text(code: &str, minutes: u32) -> String {
    format!(
        "【市场码】您的登录验证码是{code}，{minutes}分钟内有效。请勿告诉他人，工作人员不会向您索要。"
    )
}

/// Development sender: one JSON object per line (`mobile`, `text`, `code`,
/// `at`) — by design the only place a code is written down.
pub struct OutboxSender {
    path: PathBuf,
    // Lines from threads of this process must not interleave; between
    // processes, one `write_all` of an O_APPEND file is a single write.
    lock: Mutex<()>,
}

impl OutboxSender {
    pub const FILE_NAME: &'static str = "sms-outbox.jsonl";

    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            path: data_dir.join(Self::FILE_NAME),
            lock: Mutex::new(()),
        }
    }
}

impl SmsSender for OutboxSender {
    fn send(&self, message: &SmsMessage<'_>) -> Result<(), String> {
        let line = serde_json::json!({
            "mobile": message.mobile,
            "text": message.text,
            "code": message.code,
            "at": crate::db::timestamp(chrono::Utc::now()),
        });
        let mut bytes = line.to_string().into_bytes();
        bytes.push(b'\n');
        {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| format!("cannot open {}: {e}", self.path.display()))?;
            file.write_all(&bytes)
                .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        }
        let shown = shared::ids::MobileNumber::parse(message.mobile)
            .map(|m| m.masked())
            .unwrap_or_else(|_| "?".to_owned());
        tracing::info!(
            to = %shown,
            text = %message.text.replace(message.code, "******"),
            "sms written to the development outbox"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_gets_one_json_line_per_message() {
        let dir =
            std::env::temp_dir().join(format!("mc-sms-{}", hex::encode(rand::random::<[u8; 6]>())));
        std::fs::create_dir_all(&dir).unwrap();
        let sender = OutboxSender::new(&dir);
        for code in ["123456", "654321"] {
            sender
                .send(&SmsMessage {
                    mobile: "13912345678",
                    code,
                    text: login_text(code, 5),
                })
                .unwrap();
        }
        let text = std::fs::read_to_string(dir.join(OutboxSender::FILE_NAME)).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["code"], "654321");
        assert_eq!(lines[1]["mobile"], "13912345678");
        assert!(lines[1]["text"].as_str().unwrap().contains("654321"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
