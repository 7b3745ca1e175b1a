/**
 * Waits out the end of the current rate-limit minute when less than `roomMs`
 * of it is left, so a test's requests all fall in one minute.
 */
export async function sameMinute(roomMs = 5_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < roomMs) await new Promise((resolve) => setTimeout(resolve, left));
}
