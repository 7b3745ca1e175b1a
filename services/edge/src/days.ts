// UTC days, as the spend routes name them ("YYYY-MM-DD").

export const DAY_MS = 86_400_000;

/** The UTC day of a unix time in milliseconds. */
export const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
