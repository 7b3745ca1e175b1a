-- Ledger rows take LiteLLM's call_type values (its spend logs say "acompletion",
-- "aembedding" and "anthropic_messages"); rows booked before keep one vocabulary with them.
UPDATE "accounting"."spend_logs" SET "call_type" = CASE "call_type"
	WHEN 'chat_completions' THEN 'acompletion'
	WHEN 'embeddings' THEN 'aembedding'
	WHEN 'messages' THEN 'anthropic_messages'
END
WHERE "call_type" IN ('chat_completions', 'embeddings', 'messages');
