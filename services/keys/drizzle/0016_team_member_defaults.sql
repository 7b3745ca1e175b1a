ALTER TABLE "keys"."teams" ADD COLUMN IF NOT EXISTS "member_budget" double precision;--> statement-breakpoint
ALTER TABLE "keys"."teams" ADD COLUMN IF NOT EXISTS "member_budget_duration" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "keys"."teams" ADD COLUMN IF NOT EXISTS "member_rpm_limit" integer;--> statement-breakpoint
ALTER TABLE "keys"."teams" ADD COLUMN IF NOT EXISTS "member_tpm_limit" integer;--> statement-breakpoint
ALTER TABLE "keys"."teams" ADD COLUMN IF NOT EXISTS "member_key_duration" text DEFAULT '' NOT NULL;