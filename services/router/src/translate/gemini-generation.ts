/** Gemini 3 and later: their thinking takes a level, and they refuse function calls sent back unsigned. */
export function isGemini3OrLater(providerModel: string): boolean {
  return /gemini-([3-9]|[1-9]\d)/.test(providerModel);
}
