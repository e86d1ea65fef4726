-- Columns added here are left in place (SQLite cannot drop them portably);
-- nothing reads them once this migration is reverted.
DROP INDEX merchants_person;
DROP TABLE registry_operators;
