-- IF NOT EXISTS: the migrator has already created this schema to keep its own table in.
CREATE SCHEMA IF NOT EXISTS "accounting";
--> statement-breakpoint
CREATE TABLE "accounting"."spend_logs" (
	"request_id" text PRIMARY KEY NOT NULL,
	"key_hash" text NOT NULL,
	"key_alias" text NOT NULL,
	"user_id" text NOT NULL,
	"team_id" text NOT NULL,
	"model_group" text NOT NULL,
	"deployment_id" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"total_tokens" integer NOT NULL,
	"spend" double precision NOT NULL,
	"start_time" timestamp with time zone NOT NULL,
	"end_time" timestamp with time zone,
	"latency_ms" double precision NOT NULL,
	"status" text NOT NULL,
	"error_type" text NOT NULL,
	"http_status" integer NOT NULL,
	"stream" boolean NOT NULL,
	"usage_estimated" boolean NOT NULL,
	"call_type" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "spend_logs_key_hash_start_time_idx" ON "accounting"."spend_logs" USING btree ("key_hash","start_time");--> statement-breakpoint
CREATE INDEX "spend_logs_start_time_idx" ON "accounting"."spend_logs" USING btree ("start_time");