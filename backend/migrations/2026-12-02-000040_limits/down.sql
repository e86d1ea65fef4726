DROP INDEX otp_send_limits_window;
DROP INDEX otp_challenges_created;
DROP INDEX idempotency_keys_created;
DROP TABLE revoked_keys;
DROP TABLE login_throttle;
DROP TABLE refusal_counts;
DROP TABLE rate_counters;
