CREATE TABLE "keys"."customers" (
	"user_id" text PRIMARY KEY NOT NULL,
	"alias" text,
	"blocked" boolean DEFAULT false NOT NULL,
	"max_budget" double precision,
	"budget_duration" text DEFAULT '' NOT NULL,
	"rpm_limit" integer,
	"tpm_limit" integer,
	"max_parallel_requests" integer,
	"allowed_model_region" text,
	"default_model" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
