// created_at strings for signing: RFC 3339 in UTC with millisecond precision (docs/protocol.md §0.1, §16.2).

/** "2025-01-01T00:00:00.123Z": a string upstream VES accepts and this sequencer stores byte for byte. */
export function formatCreatedAt(d: Date): string {
  return d.toISOString();
}
