-- The request's tags (LiteLLM's request_tags), each once, as a JSON array of strings. Rows booked
-- before keep [] (a constant default: no rewrite of the ledger). No index: the tag report scans
-- the rows of its time range, and nothing looks rows up by tag.
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "request_tags" jsonb DEFAULT '[]'::jsonb NOT NULL;
