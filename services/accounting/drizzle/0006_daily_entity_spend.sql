CREATE TABLE IF NOT EXISTS "accounting"."daily_entity_spend" (
	"day" date NOT NULL,
	"entity_type" text NOT NULL,
	"entity" text NOT NULL,
	"key_hash" text NOT NULL,
	"team_id" text NOT NULL,
	"model_group" text NOT NULL,
	"key_alias" text NOT NULL,
	"spend" double precision NOT NULL,
	"prompt_tokens" bigint NOT NULL,
	"completion_tokens" bigint NOT NULL,
	"total_tokens" bigint NOT NULL,
	"requests" bigint NOT NULL,
	"failed_requests" bigint NOT NULL,
	CONSTRAINT "daily_entity_spend_pkey" PRIMARY KEY("day","entity_type","entity","key_hash","team_id","model_group")
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "daily_entity_spend_entity_idx" ON "accounting"."daily_entity_spend" USING btree ("entity_type","entity");--> statement-breakpoint
-- The spend logs still kept (retention) give the totals of the days before this table; cells
-- already there (this migration run again) are left as they are.
INSERT INTO "accounting"."daily_entity_spend" (day, entity_type, entity, key_hash, team_id, model_group, key_alias, spend,
  prompt_tokens, completion_tokens, total_tokens, requests, failed_requests)
SELECT (start_time AT TIME ZONE 'UTC')::date, e.entity_type, e.entity, key_hash, team_id, model_group,
  (array_agg(key_alias ORDER BY start_time DESC))[1], sum(spend), sum(prompt_tokens), sum(completion_tokens),
  sum(total_tokens), count(*), count(*) FILTER (WHERE status = 'failure')
FROM "accounting"."spend_logs" CROSS JOIN LATERAL (
  SELECT 'tag', tag FROM jsonb_array_elements_text(request_tags) AS t(tag)
  UNION ALL SELECT 'end_user', end_user WHERE end_user <> ''
) AS e(entity_type, entity)
GROUP BY 1, 2, 3, 4, 5, 6
ON CONFLICT DO NOTHING;
