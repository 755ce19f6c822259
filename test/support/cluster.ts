import type { Test } from 'tap'
import pino from 'pino'
import { Value } from 'typebox/value'
import { storeSchema, type StoreConfig } from '../../src/cluster/config.js'
import { Store } from '../../src/cluster/store.js'
import { startStore, dropStore } from './store.js'
import type { SecurityEvent } from '../../src/model/event.js'

export const storeSchemaDefaults: StoreConfig = Value.Default(storeSchema, {}) as StoreConfig

/** A real store server for this test, and `open(replicaId)`: a connected client as that replica (closed at teardown). */
export async function storeRig(t: Test) {
  const server = await startStore()
  t.teardown(() => dropStore(server))
  const open = async (replicaId: string) => {
    const s = new Store({ ...storeSchemaDefaults, url: server.url }, { logger: pino({ level: 'silent' }), replicaId })
    t.teardown(() => s.close())
    await s.ready()
    return s
  }
  return { server, open }
}

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
