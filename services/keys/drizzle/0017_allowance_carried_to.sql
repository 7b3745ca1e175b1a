ALTER TABLE "keys"."allowances" ADD COLUMN IF NOT EXISTS "carried_to" bigint;
