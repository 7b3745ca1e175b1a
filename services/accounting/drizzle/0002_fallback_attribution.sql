-- model_group now names the group that answered (LiteLLM's); the name the client asked for and
-- how many fallback groups were tried are kept beside it. Rows booked before keep '' and 0
-- (a constant default: no rewrite of the ledger).
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "original_model_group" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "attempted_fallbacks" integer DEFAULT 0 NOT NULL;