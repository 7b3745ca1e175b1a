CREATE TABLE "keys"."teams" (
	"team_id" text PRIMARY KEY NOT NULL,
	"team_alias" text,
	"models" text[] DEFAULT '{}'::text[] NOT NULL,
	"max_budget" double precision,
	"budget_duration" text DEFAULT '' NOT NULL,
	"rpm_limit" integer,
	"tpm_limit" integer,
	"max_parallel_requests" integer,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"members_with_roles" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"blocked" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
