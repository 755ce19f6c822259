import type { CheckpointStore, Checkpoint } from '../sources/eks-audit-cloudwatch.js'
import type { StateWrite } from '../detect/audit/staged-state.js'
import type { Cluster } from './index.js'
import { CHECKPOINT } from './scripts.js'

/** The audit detectors' state, as the poller hands it over (src/pipeline/part.ts builds it). */
export interface PollerDetector {
  state: { onCommitted(listener: (writes: readonly StateWrite[]) => void): unknown }
  memory: { changed(): StateWrite[]; all(): StateWrite[]; restore(entries: readonly StateWrite[]): void }
  /** Commit the leader's durable detector state into this replica's spool (a take-over). */
  restore(writes: StateWrite[]): Promise<unknown>
  /** This replica's durable detector state: handed over whole when the store has none yet. */
  local(): StateWrite[]
}

/**
 * Several EKS audit pollers, one reading (docs/scale-out.md). The reader holds a lease in the store;
 * its checkpoint lives in the store too, and a checkpoint write is accepted only with the current
 * lease's fencing token, in the same atomic step. Before it writes, the reader merges what it
 * committed locally into the store: a checkpoint in the store means the detections before it are
 * there. A reader killed anywhere before that leaves the checkpoint behind: the next reader reads
 * those events again, and the store counts each detection once (its auditID is a once-key of the
 * merge), whichever reader's batch reaches it first.
 *
 * The detectors' memory travels with the checkpoint: the first-seen baselines (and the learning
 * period's start), the aws-auth content, the 401/403 windows with their learned baselines — what
 * changed since the last checkpoint is written in the checkpoint's fenced step, and a poller that
 * becomes the leader loads it before it reads. Without it a standby would start learning afresh at
 * every take-over (no first-seen finding for the learning period, or a second one for a principal
 * the old leader had seen) and a burst straddling the take-over would be split in two and missed.
 */
export function sharedPolling(cluster: Cluster, logGroupName: string, local: CheckpointStore, detector?: PollerDetector): { checkpoints: CheckpointStore; active: () => boolean } {
  const name = `audit-poller:${logGroupName}`
  const lease = cluster.lease(name)
  const store = cluster.store
  const key = store.key(`audit-checkpoint:${logGroupName}`)
  const stateKey = store.key(`audit-state:${logGroupName}`)
  const windowsKey = store.key(`audit-windows:${logGroupName}`)
  // Durable writes committed since the last checkpoint (newest per key), and the windows that moved.
  const pendingState = new Map<string, unknown>()
  const pendingWindows = new Map<string, unknown>()
  let loaded = false
  lease.onChange((leader) => {
    if (leader) loaded = false // every new term starts from the state the checkpoint covers
  })
  detector?.state.onCommitted((writes) => {
    for (const w of writes) pendingState.set(w.key, w.value)
  })

  const load = async () => {
    const [state, windows] = await Promise.all([hash(cluster, 'audit-state', stateKey), hash(cluster, 'audit-windows', windowsKey)])
    if (state.length === 0 && windows.length === 0) {
      // Nothing shared (the first leader after scaling out, or a store that lost its data): carry
      // on from this replica's own state and hand it over whole with the next checkpoint.
      for (const w of detector!.local()) pendingState.set(w.key, w.value)
      for (const w of detector!.memory.all()) pendingWindows.set(w.key, w.value)
      return
    }
    // What this replica staged in an earlier term is behind the checkpoint's state: the pages
    // after the checkpoint are read again, and learned again.
    pendingState.clear()
    pendingWindows.clear()
    detector!.memory.changed()
    if (state.length) await detector!.restore(state)
    detector!.memory.restore(windows)
  }

  return {
    active: () => lease.leader,
    checkpoints: {
      async read() {
        const value = await store.command<string | null>('checkpoint', 'GET', key)
        // A new term, or no checkpoint (the first poll, or a store that lost its data meanwhile).
        if (detector && (!loaded || !value)) {
          await load() // a store error fails this poll: it is retried, and nothing is read before
          loaded = true
        }
        // The first reader after a single poller was scaled out continues from its file.
        return value ? (JSON.parse(value) as Checkpoint) : local.read()
      },
      async write(c) {
        if (!(await cluster.flush())) throw new Error('the shared store cannot take the detections yet: checkpoint kept')
        const fence = lease.fence
        if (fence === undefined) throw new Error('no longer the audit poller leader: checkpoint not written')
        const keys = [key, store.key(`fence:${name}`)]
        const args: Array<string | number> = [fence, JSON.stringify(c)]
        let sent: { state: Map<string, unknown>; windows: Map<string, unknown> } | undefined
        if (detector) {
          for (const w of detector.memory.changed()) pendingWindows.set(w.key, w.value)
          sent = { state: new Map(pendingState), windows: new Map(pendingWindows) }
          keys.push(stateKey, windowsKey)
          args.push(sent.state.size)
          for (const m of [sent.state, sent.windows]) for (const [k, v] of m) args.push(k, JSON.stringify(v))
        }
        if ((await store.run<number>(CHECKPOINT, keys, args)) !== 1) {
          throw new Error('no longer the audit poller leader: checkpoint not written')
        }
        // Written: forget what went, unless it changed again meanwhile.
        if (sent)
          for (const [m, pending] of [
            [sent.state, pendingState],
            [sent.windows, pendingWindows],
          ] as const)
            for (const [k, v] of m) if (pending.get(k) === v) pending.delete(k)
      },
    },
  }
}

/** A hash's fields as state writes (values JSON). */
async function hash(cluster: Cluster, op: string, key: string): Promise<StateWrite[]> {
  const reply = await cluster.store.command<string[] | Record<string, string>>(op, 'HGETALL', key)
  const pairs: Array<[string, string]> = []
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([reply[i]!, reply[i + 1]!])
  else if (reply) pairs.push(...Object.entries(reply))
  const out: StateWrite[] = []
  for (const [k, v] of pairs) {
    try {
      out.push({ key: k, value: JSON.parse(v) })
    } catch {
      // not ours: left alone
    }
  }
  return out
}
