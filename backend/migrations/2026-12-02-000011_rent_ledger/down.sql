DROP TABLE stall_confirmations;
DROP TABLE market_rent_ledger;
