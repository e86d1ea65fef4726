DROP TABLE audit_log;
DROP TABLE staff_users;
DROP TABLE products;
DROP TABLE banks;
DROP TABLE stalls;
DROP TABLE markets;
