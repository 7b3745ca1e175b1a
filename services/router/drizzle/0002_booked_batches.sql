CREATE TABLE IF NOT EXISTS "router"."booked_batches" (
	"batch" text PRIMARY KEY NOT NULL,
	"booked_at" timestamp with time zone DEFAULT now() NOT NULL
);
