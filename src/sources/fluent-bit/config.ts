import { Type } from 'typebox'
import { LogRule } from './log-rules.js'
import { falcoSenderSchema } from './falco-sender.js'

export const fluentBitSchema = Type.Object(
  {
    bodyLimitBytes: Type.Integer({
      minimum: 1024,
      default: 67_108_864,
      description: 'Largest chunk (also after decompression); larger ones get 413 before they are read.',
    }),
    memoryBudgetBytes: Type.Integer({
      minimum: 1_048_576,
      default: 100_663_296,
      description: 'Memory the chunks being read may take together (estimated: body, inflated text, decoded records); a chunk past it gets 503 + Retry-After (Fluent Bit retries) instead of growing the heap. About a quarter of the heap (--max-old-space-size).',
    }),
    maxConcurrentChunks: Type.Integer({ minimum: 1, default: 2, description: 'Chunks decoded and committed at the same time; the others wait their turn (their memory already counted).' }),
    heapHighWaterPercent: Type.Integer({ minimum: 10, maximum: 100, default: 80, description: "Above this share of V8's heap limit, new chunks get 503 + Retry-After until memory is freed." }),
    dateKey: Type.String({ default: 'date', description: "Fluent Bit's json_date_key." }),
    falcoKeys: Type.Array(Type.String(), {
      default: ['log', 'log_processed', 'data'],
      description: 'Record keys that may hold a Falco alert (as JSON text or an object); Falco keys at the top level are always found.',
    }),
    falcoContainers: Type.Array(Type.String(), { default: ['falco'], description: "Falco's container names: their stderr is Falco's own start-up output and is skipped." }),
    falcoSender: falcoSenderSchema,
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
