ALTER TABLE "keys"."virtual_keys" ADD COLUMN IF NOT EXISTS "model_rpm_limit" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "keys"."virtual_keys" ADD COLUMN IF NOT EXISTS "model_tpm_limit" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "keys"."virtual_keys" ADD COLUMN IF NOT EXISTS "model_max_budget" jsonb DEFAULT '{}'::jsonb NOT NULL;