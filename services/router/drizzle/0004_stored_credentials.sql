CREATE TABLE IF NOT EXISTS "router"."credentials" (
	"name" text PRIMARY KEY NOT NULL,
	"credential_values" jsonb NOT NULL,
	"credential_info" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
