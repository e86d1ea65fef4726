//! Sending SMS. Production sends through an HTTP gateway
//! ([`GatewaySender`], configured by `MARKET_CODE_SMS_GATEWAY_URL`); the
//! development sender appends each message to `data/sms-outbox.jsonl`
//! (owner-only, rotated), which the end-to-end tests (and a developer) read
//! to learn the code. Production refuses to start with the outbox.

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

/// `text` with the one-time code starred out (a message without a code, as
/// later notices may be, is left as it is).
fn hide_code(text: &str, code: &str) -> String {
    if code.is_empty() {
        text.to_owned()
    } else {
        text.replace(code, "******")
    }
}

/// The text of a login code message.
pub fn login_text(code: &str, minutes: u32) -> String {
    format!(
        "【市场码】您的登录验证码是{code}，{minutes}分钟内有效。请勿告诉他人，工作人员不会向您索要。"
    )
}

/// An SMS gateway reached over HTTP(S): each message is one `POST` of
/// `{"mobile": "139…", "text": "【市场码】…"}` as JSON to the configured URL,
/// with `Authorization: Bearer <token>` when a token is configured; any 2xx
/// answer is "sent", anything else (or no answer within
/// [`GatewaySender::TIMEOUT`]) a failure the merchant is told to retry. A
/// provider with another API (Aliyun, Tencent Cloud SMS) sits behind a small
/// relay that speaks this, keeping its credentials out of this server. The
/// answer's body is never read or logged (it may echo the text).
pub struct GatewaySender {
    url: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl GatewaySender {
    pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

    pub fn new(gateway: &crate::config::SmsGateway) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Self::TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            url: gateway.url.clone(),
            token: gateway.token.clone(),
            agent,
        }
    }
}

impl SmsSender for GatewaySender {
    fn send(&self, message: &SmsMessage<'_>) -> Result<(), String> {
        let body = serde_json::json!({ "mobile": message.mobile, "text": message.text });
        let mut request = self.agent.post(&self.url);
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        // Errors name the gateway's status or the transport's failure,
        // never the message (it holds the code).
        let response = request.send_json(&body).map_err(|e| {
            format!(
                "SMS gateway unreachable: {}",
                hide_code(&e.to_string(), message.code)
            )
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("SMS gateway answered {}", status.as_u16()))
        }
    }
}

/// Development sender: one JSON object per line (`mobile`, `text`, `code`,
/// `at`) — by design the only place a code is written down, so the file is
/// readable by its owner only, and rotated once it passes
/// [`OutboxSender::ROTATE_BYTES`] (the previous one kept as `….1`).
pub struct OutboxSender {
    path: PathBuf,
    rotate_bytes: u64,
    // Lines from threads of this process must not interleave; between
    // processes, one `write_all` of an O_APPEND file is a single write.
    lock: Mutex<()>,
}

impl OutboxSender {
    pub const FILE_NAME: &'static str = "sms-outbox.jsonl";
    /// About 40,000 messages.
    pub const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

    pub fn new(data_dir: &std::path::Path) -> Self {
        Self::rotating_at(data_dir, Self::ROTATE_BYTES)
    }

    pub fn rotating_at(data_dir: &std::path::Path, rotate_bytes: u64) -> Self {
        Self {
            path: data_dir.join(Self::FILE_NAME),
            rotate_bytes,
            lock: Mutex::new(()),
        }
    }

    fn rotate_if_full(&self) -> Result<(), String> {
        let full = std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= self.rotate_bytes);
        if full {
            let old = self.path.with_extension("jsonl.1");
            std::fs::rename(&self.path, &old)
                .map_err(|e| format!("cannot rotate {}: {e}", self.path.display()))?;
        }
        Ok(())
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
            self.rotate_if_full()?;
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
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
            text = %hide_code(&message.text, message.code),
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.join(OutboxSender::FILE_NAME);
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the codes are the owner's only");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_outbox_is_rotated_when_full() {
        let dir = std::env::temp_dir().join(format!(
            "mc-sms-rot-{}",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // A message is about 200 bytes: two to a file.
        let sender = OutboxSender::rotating_at(&dir, 300);
        for i in 0..5 {
            let code = format!("{:06}", 100_000 + i);
            sender
                .send(&SmsMessage {
                    mobile: "13912345678",
                    code: &code,
                    text: login_text(&code, 5),
                })
                .unwrap();
        }
        let current = std::fs::read_to_string(dir.join(OutboxSender::FILE_NAME)).unwrap();
        let previous = std::fs::read_to_string(dir.join("sms-outbox.jsonl.1")).unwrap();
        assert!(previous.len() >= 300, "rotated once full");
        assert!(
            current.contains("100004"),
            "the newest is in the current file"
        );
        assert!(!previous.contains("100004"));
        // Only one old file is kept: the oldest messages are gone.
        let kept = previous.lines().count() + current.lines().count();
        assert!(kept < 5, "{kept} of 5 kept");
        assert!(!format!("{previous}{current}").contains("100000"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A one-request HTTP server on loopback that answers `status` and
    /// hands back what it was sent.
    fn gateway(status: u16) -> (String, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            (&stream).write_all(answer.as_bytes()).unwrap();
            format!("{head}{}", String::from_utf8(body).unwrap())
        });
        (url, handle)
    }

    #[test]
    fn the_gateway_gets_a_json_post_with_the_token() {
        let (url, seen) = gateway(200);
        let sender = GatewaySender::new(&crate::config::SmsGateway {
            url,
            token: Some("s3cret".into()),
        });
        sender
            .send(&SmsMessage {
                mobile: "13912345678",
                code: "246810",
                text: login_text("246810", 5),
            })
            .unwrap();
        let request = seen.join().unwrap();
        assert!(request.starts_with("POST /sms HTTP/1.1"), "{request}");
        assert!(
            request.contains("authorization: Bearer s3cret")
                || request.contains("Authorization: Bearer s3cret"),
            "{request}"
        );
        let body: serde_json::Value =
            serde_json::from_str(request.rsplit("\r\n\r\n").next().unwrap()).unwrap();
        assert_eq!(body["mobile"], "13912345678");
        assert!(body["text"].as_str().unwrap().contains("246810"));

        let (url, _) = gateway(503);
        let sender = GatewaySender::new(&crate::config::SmsGateway { url, token: None });
        let err = sender
            .send(&SmsMessage {
                mobile: "13912345678",
                code: "246810",
                text: login_text("246810", 5),
            })
            .unwrap_err();
        assert_eq!(err, "SMS gateway answered 503");
    }
}
