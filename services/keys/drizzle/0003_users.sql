CREATE TABLE "keys"."users" (
	"user_id" text PRIMARY KEY NOT NULL,
	"user_alias" text,
	"user_email" text,
	"user_role" text DEFAULT 'internal_user' NOT NULL,
	"models" text[] DEFAULT '{}'::text[] NOT NULL,
	"max_budget" double precision,
	"budget_duration" text DEFAULT '' NOT NULL,
	"rpm_limit" integer,
	"tpm_limit" integer,
	"max_parallel_requests" integer,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_lower_idx" ON "keys"."users" USING btree (lower("user_email"));