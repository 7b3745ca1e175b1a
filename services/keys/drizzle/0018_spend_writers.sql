CREATE TABLE IF NOT EXISTS "keys"."spend_writers" (
	"writer" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL
);
