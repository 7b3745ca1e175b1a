CREATE TABLE "keys"."tags" (
	"name" text PRIMARY KEY NOT NULL,
	"description" text,
	"models" text[] DEFAULT '{}'::text[] NOT NULL,
	"max_budget" double precision,
	"budget_duration" text DEFAULT '' NOT NULL,
	"rpm_limit" integer,
	"tpm_limit" integer,
	"max_parallel_requests" integer,
	"soft_budget" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
