CREATE TABLE IF NOT EXISTS "keys"."holders" (
	"holder" text PRIMARY KEY NOT NULL,
	"alive_until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "keys"."parallel_holds" (
	"holder" text NOT NULL,
	"key_id" text NOT NULL,
	"held" double precision NOT NULL,
	CONSTRAINT "parallel_holds_holder_key_id_pk" PRIMARY KEY("holder","key_id")
);
--> statement-breakpoint
-- Parallel slots taken before replicas recorded their parts: those of a replica that died stayed taken for good. Start them afresh.
UPDATE "keys"."allowances" SET "granted" = 0 WHERE "kind" = 'parallel';
