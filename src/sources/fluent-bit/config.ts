import { Type } from 'typebox'
import { LogRule } from './log-rules.js'

export const fluentBitSchema = Type.Object(
  {
    bodyLimitBytes: Type.Integer({
      minimum: 1024,
      default: 67_108_864,
      description: 'Largest chunk (also after decompression); larger ones get 413 before they are read.',
    }),
    dateKey: Type.String({ default: 'date', description: "Fluent Bit's json_date_key." }),
    falcoKeys: Type.Array(Type.String(), {
      default: ['log', 'log_processed', 'data'],
      description: 'Record keys that may hold a Falco alert (as JSON text or an object); Falco keys at the top level are always found.',
    }),
    falcoContainers: Type.Array(Type.String(), { default: ['falco'], description: "Falco's container names: their stderr is Falco's own start-up output and is skipped." }),
    dedupeWindowSecs: Type.Integer({
      minimum: 60,
      default: 3_600,
      description:
        "How long a chunk is remembered, so a resent chunk is not counted twice (Fluent Bit resends byte for byte). Fluent Bit retries a chunk within its scheduler's cap (scheduler.cap, 2,000 s by default): an hour covers it. Kept compactly (16-byte digests in time buckets) within its own share of the spool budget.",
    }),
    builtinLogRules: Type.Boolean({ default: true, description: 'Use the shipped log rules (sshd / su / sudo authentication failures in node logs).' }),
    logRules: Type.Array(LogRule, { default: [], description: 'More log rules, tried before the built-in ones; the first match wins.' }),
  },
  { default: {} },
)
