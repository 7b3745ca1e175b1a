ALTER TABLE "keys"."virtual_keys" ADD COLUMN IF NOT EXISTS "organization_id" text;--> statement-breakpoint
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'virtual_keys_organization_id_organizations_organization_id_fk') THEN
    ALTER TABLE "keys"."virtual_keys" ADD CONSTRAINT "virtual_keys_organization_id_organizations_organization_id_fk" FOREIGN KEY ("organization_id") REFERENCES "keys"."organizations"("organization_id") ON DELETE restrict ON UPDATE no action;
  END IF;
END $$;
