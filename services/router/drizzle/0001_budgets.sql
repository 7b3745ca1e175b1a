CREATE TABLE "router"."budget_allowances" (
	"subject" text NOT NULL,
	"window_start" bigint NOT NULL,
	"granted" double precision DEFAULT 0 NOT NULL,
	"spend" double precision DEFAULT 0 NOT NULL,
	CONSTRAINT "budget_allowances_subject_window_start_pk" PRIMARY KEY("subject","window_start")
);
