CREATE TABLE IF NOT EXISTS "router"."budget_allowance_ops" (
	"op" uuid PRIMARY KEY NOT NULL,
	"made_at" timestamp with time zone DEFAULT now() NOT NULL
);
