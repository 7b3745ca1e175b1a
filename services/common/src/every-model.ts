// Names in a key's or team's `models` that stand for every model, as in LiteLLM
// (a key's "all-team-models" is its team's: every model, within the team's).
export const ALL_PROXY_MODELS = "all-proxy-models";
export const EVERY_MODEL: ReadonlySet<string> = new Set([ALL_PROXY_MODELS, "all-team-models"]);
