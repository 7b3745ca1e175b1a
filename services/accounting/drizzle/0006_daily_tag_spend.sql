CREATE TABLE IF NOT EXISTS "accounting"."daily_tag_spend" (
	"day" date NOT NULL,
	"tag" text NOT NULL,
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
	CONSTRAINT "daily_tag_spend_pkey" PRIMARY KEY("day","tag","key_hash","team_id","model_group")
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "daily_tag_spend_tag_idx" ON "accounting"."daily_tag_spend" USING btree ("tag");--> statement-breakpoint
-- The spend logs still kept (retention) give the tag totals of the days before this table; cells
-- already there (this migration run again) are left as they are.
INSERT INTO "accounting"."daily_tag_spend" (day, tag, key_hash, team_id, model_group, key_alias, spend, prompt_tokens, completion_tokens, total_tokens, requests, failed_requests)
SELECT (start_time AT TIME ZONE 'UTC')::date, t.tag, key_hash, team_id, model_group,
  (array_agg(key_alias ORDER BY start_time DESC))[1], sum(spend), sum(prompt_tokens), sum(completion_tokens),
  sum(total_tokens), count(*), count(*) FILTER (WHERE status = 'failure')
FROM "accounting"."spend_logs" CROSS JOIN LATERAL jsonb_array_elements_text(request_tags) AS t(tag)
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT DO NOTHING;
