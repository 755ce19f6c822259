/**
 * How the per-occurrence stores encode their values: msgpack maps, not msgpackr records.
 * lmdb-js's default encoder writes each value's object shapes as inline record definitions
 * (no shared structures), which costs more to write and to read back than plain maps at the
 * same size (~1.8 KB a finding state): measured on the Falco fixtures' states, a put ~8 → ~5.5 µs
 * and a get ~5.5 → ~4.8 µs. Shared structures (`sharedStructuresKey`) would read faster still, but
 * a structure learnt in a write transaction that is then aborted stays in the encoder and not in
 * the store, so a later value could be unreadable after a restart: not taken.
 * Reading is unchanged for older spools: msgpackr decodes inline records whatever this says.
 */
export const PLAIN_MAPS = { useRecords: false } as const
