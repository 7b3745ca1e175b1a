CREATE TABLE IF NOT EXISTS "keys"."allowance_ops" (
	"op" uuid PRIMARY KEY NOT NULL,
	"made_at" timestamp with time zone DEFAULT now() NOT NULL
);
