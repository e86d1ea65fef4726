DROP TABLE pool_entries;
DROP TABLE applications;
