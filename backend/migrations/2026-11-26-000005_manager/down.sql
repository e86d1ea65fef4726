DROP INDEX audit_log_market;
DROP INDEX credit_rent_stall;
DROP INDEX stalls_market_status;
DROP TABLE staff_login_limits;
DROP TABLE staff_sessions;
