DROP TABLE usage_hourly;
DROP TABLE idempotency_keys;
DROP TABLE session_messages;
DROP TABLE conversation_sessions;
DROP TABLE usage_records;
DROP TABLE credit_transactions;
DROP TABLE credit_balances;
