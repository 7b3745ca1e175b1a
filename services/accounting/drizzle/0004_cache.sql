-- Whether the gateway's response cache answered the request (no provider call, spend 0), and
-- the cache's key for it ('' when the cache was not looked at). Rows booked before keep false
-- and '' (constant defaults: no rewrite of the ledger). No index: nothing looks rows up by them.
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "cache_hit" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "cache_key" text DEFAULT '' NOT NULL;
