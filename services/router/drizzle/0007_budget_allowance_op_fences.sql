ALTER TABLE "router"."budget_allowance_ops" ADD COLUMN IF NOT EXISTS "fence" boolean DEFAULT false NOT NULL;
