CREATE TABLE IF NOT EXISTS "router"."budget_spend_writers" (
	"writer" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL
);
