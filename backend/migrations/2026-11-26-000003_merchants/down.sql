DROP TABLE idempotency_keys;
DROP TABLE otp_send_limits;
DROP TABLE otp_challenges;
DROP TABLE sessions;
DROP TABLE merchants;
