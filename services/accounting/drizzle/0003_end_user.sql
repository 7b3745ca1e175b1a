-- The end user (LiteLLM's customer) each request was made for; rows booked before keep ''
-- (a constant default: no rewrite of the ledger). The index holds only the rows that name
-- one, for the spend per end user. Made on the partitioned table like the others (0000), it
-- is built on every existing daily partition now and made on each new one with it. The build
-- reads the partitions there are (old rows, all '', add nothing) while the ALTER's lock holds
-- off booking and spend reads until the migration commits: CONCURRENTLY is refused on a
-- partitioned table and inside the migrator's transaction. Usage events wait in JetStream.
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "end_user" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "spend_logs_end_user_start_time_idx" ON "accounting"."spend_logs" USING btree ("end_user","start_time") WHERE "end_user" <> '';
