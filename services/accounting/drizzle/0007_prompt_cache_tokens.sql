-- Prompt-cache tokens (of prompt_tokens, read from and written to a provider's prompt cache);
-- rows and totals booked before were not told them and keep 0.
ALTER TABLE "accounting"."daily_entity_spend" ADD COLUMN IF NOT EXISTS "cache_read_input_tokens" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."daily_entity_spend" ADD COLUMN IF NOT EXISTS "cache_creation_input_tokens" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."daily_spend" ADD COLUMN IF NOT EXISTS "cache_read_input_tokens" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."daily_spend" ADD COLUMN IF NOT EXISTS "cache_creation_input_tokens" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "cache_read_input_tokens" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."spend_logs" ADD COLUMN IF NOT EXISTS "cache_creation_input_tokens" integer DEFAULT 0 NOT NULL;