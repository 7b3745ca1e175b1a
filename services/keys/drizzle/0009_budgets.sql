CREATE TABLE IF NOT EXISTS "keys"."budgets" (
	"budget_id" text PRIMARY KEY NOT NULL,
	"max_budget" double precision,
	"budget_duration" text DEFAULT '' NOT NULL,
	"rpm_limit" integer,
	"tpm_limit" integer,
	"max_parallel_requests" integer,
	"soft_budget" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "keys"."customers" ADD COLUMN IF NOT EXISTS "budget_id" text;--> statement-breakpoint
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'customers_budget_id_budgets_budget_id_fk') THEN
    ALTER TABLE "keys"."customers" ADD CONSTRAINT "customers_budget_id_budgets_budget_id_fk" FOREIGN KEY ("budget_id") REFERENCES "keys"."budgets"("budget_id") ON DELETE restrict ON UPDATE no action;
  END IF;
END $$;