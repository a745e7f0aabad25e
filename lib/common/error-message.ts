// The text of anything thrown, for log lines: an Error's message, else the value as a string.
// Logs must never throw themselves, whatever a rejected promise carried.
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
