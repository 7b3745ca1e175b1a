-- IF NOT EXISTS: the migrator has already created this schema to keep its own table in.
CREATE SCHEMA IF NOT EXISTS "keys";
--> statement-breakpoint
CREATE TABLE "keys"."allowances" (
	"key_id" text NOT NULL,
	"kind" text NOT NULL,
	"window_start" bigint NOT NULL,
	"granted" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "allowances_key_id_kind_window_start_pk" PRIMARY KEY("key_id","kind","window_start")
);
--> statement-breakpoint
CREATE TABLE "keys"."virtual_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"key_hash" text NOT NULL,
	"key_name" text NOT NULL,
	"key_alias" text,
	"models" text[] DEFAULT '{}'::text[] NOT NULL,
	"max_budget" double precision,
	"budget_duration" text DEFAULT '' NOT NULL,
	"expires_at" timestamp with time zone,
	"rpm_limit" integer,
	"tpm_limit" integer,
	"max_parallel_requests" integer,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"user_id" text DEFAULT '' NOT NULL,
	"team_id" text DEFAULT '' NOT NULL,
	"blocked" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "virtual_keys_key_hash_unique" UNIQUE("key_hash"),
	CONSTRAINT "virtual_keys_key_alias_unique" UNIQUE("key_alias")
);
