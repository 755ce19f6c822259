/**
 * Sink ids renamed since a release, old id → id (the rule for ids: src/delivery/sink.ts). The id
 * names a sink's data, so what an older version wrote under the old id is moved once when it is
 * opened: the spool's queues and delivery records (delivery/spool/sink-queues.ts), the dead-letter
 * file (delivery/dead-letter.ts), the shared store's queues, delivery records and sink status
 * (cluster/rename-sinks.ts). The old config key stays readable as a deprecated alias (config/deprecated.ts).
 */
export const RENAMED_SINK_IDS: Readonly<Record<string, string>> = {
  // 0.x: every built-in sink id is its camelCase config key, like cloudwatchLogs and eventBridge.
  securityhub: 'securityHub',
}

/** The id a sink has now, given one an older version may have written. */
export function currentSinkId(id: string): string {
  return RENAMED_SINK_IDS[id] ?? id
}
