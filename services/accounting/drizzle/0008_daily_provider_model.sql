-- The daily totals per provider and provider model too (daily activity's providers and models
-- breakdowns). Cells booked before keep '' for both: the spend logs they came from may be gone.
ALTER TABLE "accounting"."daily_entity_spend" ADD COLUMN IF NOT EXISTS "provider" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."daily_entity_spend" ADD COLUMN IF NOT EXISTS "model" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."daily_spend" ADD COLUMN IF NOT EXISTS "provider" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."daily_spend" ADD COLUMN IF NOT EXISTS "model" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "accounting"."daily_entity_spend" DROP CONSTRAINT IF EXISTS "daily_entity_spend_pkey";--> statement-breakpoint
ALTER TABLE "accounting"."daily_entity_spend" ADD CONSTRAINT "daily_entity_spend_pkey" PRIMARY KEY("day","entity_type","entity","key_hash","team_id","model_group","provider","model");--> statement-breakpoint
ALTER TABLE "accounting"."daily_spend" DROP CONSTRAINT IF EXISTS "daily_spend_pkey";--> statement-breakpoint
ALTER TABLE "accounting"."daily_spend" ADD CONSTRAINT "daily_spend_pkey" PRIMARY KEY("day","key_hash","team_id","model_group","provider","model");
