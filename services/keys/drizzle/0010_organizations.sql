CREATE TABLE IF NOT EXISTS "keys"."organizations" (
	"organization_id" text PRIMARY KEY NOT NULL,
	"organization_alias" text NOT NULL,
	"models" text[] DEFAULT '{}'::text[] NOT NULL,
	"max_budget" double precision,
	"budget_duration" text DEFAULT '' NOT NULL,
	"rpm_limit" integer,
	"tpm_limit" integer,
	"max_parallel_requests" integer,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"members" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"blocked" boolean DEFAULT false NOT NULL,
	"budget_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "keys"."teams" ADD COLUMN IF NOT EXISTS "organization_id" text;--> statement-breakpoint
ALTER TABLE "keys"."virtual_keys" ADD COLUMN IF NOT EXISTS "organization_id" text;--> statement-breakpoint
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'organizations_budget_id_budgets_budget_id_fk') THEN
    ALTER TABLE "keys"."organizations" ADD CONSTRAINT "organizations_budget_id_budgets_budget_id_fk" FOREIGN KEY ("budget_id") REFERENCES "keys"."budgets"("budget_id") ON DELETE restrict ON UPDATE no action;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'teams_organization_id_organizations_organization_id_fk') THEN
    ALTER TABLE "keys"."teams" ADD CONSTRAINT "teams_organization_id_organizations_organization_id_fk" FOREIGN KEY ("organization_id") REFERENCES "keys"."organizations"("organization_id") ON DELETE restrict ON UPDATE no action;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'virtual_keys_organization_id_organizations_organization_id_fk') THEN
    ALTER TABLE "keys"."virtual_keys" ADD CONSTRAINT "virtual_keys_organization_id_organizations_organization_id_fk" FOREIGN KEY ("organization_id") REFERENCES "keys"."organizations"("organization_id") ON DELETE restrict ON UPDATE no action;
  END IF;
END $$;
