-- IF NOT EXISTS: the migrator has already created this schema to keep its own table in.
CREATE SCHEMA IF NOT EXISTS "router";
--> statement-breakpoint
CREATE TABLE "router"."deployment_allowances" (
	"deployment_id" text NOT NULL,
	"kind" text NOT NULL,
	"window_start" bigint NOT NULL,
	"granted" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "deployment_allowances_deployment_id_kind_window_start_pk" PRIMARY KEY("deployment_id","kind","window_start")
);
--> statement-breakpoint
CREATE TABLE "router"."runtime_models" (
	"id" text PRIMARY KEY NOT NULL,
	"model_name" text NOT NULL,
	"litellm_params" jsonb NOT NULL,
	"model_info" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
