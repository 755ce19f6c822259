import { Value } from 'typebox/value'
import { storeSchema, type StoreConfig } from '../../src/cluster/config.js'
import type { SecurityEvent } from '../../src/model/event.js'

export const storeSchemaDefaults: StoreConfig = Value.Default(storeSchema, {}) as StoreConfig

/** A minimal normalized Falco event of one rule on one workload. */
export function falcoEvent(o: { time: string; pod: string; priority?: string; rule?: string }): SecurityEvent {
  return {
    input: 'falco',
    source: 'syscall',
    priorityText: o.priority ?? 'Warning',
    rule: o.rule ?? 'Terminal shell in container',
    priority: (o.priority ?? 'Warning') as SecurityEvent['priority'],
    output: 'shell',
    time: o.time,
    hostname: 'node-1',
    tags: [],
    fields: {},
    workload: { namespace: 'prod', pod: o.pod, container: { id: 'c1', name: 'web' }, labels: {}, annotations: {}, namespaceLabels: {} },
  } as SecurityEvent
}
