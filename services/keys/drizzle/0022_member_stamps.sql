ALTER TABLE "keys"."organizations" ADD COLUMN IF NOT EXISTS "member_stamp_ms" bigint;--> statement-breakpoint
ALTER TABLE "keys"."teams" ADD COLUMN IF NOT EXISTS "member_stamp_ms" bigint;