import type { CheckpointStore, Checkpoint } from '../sources/eks-audit-cloudwatch.js'
import type { Cluster } from './index.js'
import { CHECKPOINT } from './scripts.js'

/**
 * Several EKS audit pollers, one reading (docs/scale-out.md). The reader holds a lease in the store;
 * its checkpoint lives in the store too, and a checkpoint write is accepted only with the current
 * lease's fencing token, in the same atomic step. Before it writes, the reader merges what it
 * committed locally into the store: a checkpoint in the store means the detections before it are
 * there. A reader killed anywhere before that leaves the checkpoint behind: the next reader reads
 * those events again, and the store counts each detection once (its auditID is a once-key of the
 * merge), whichever reader's batch reaches it first.
 */
export function sharedPolling(cluster: Cluster, logGroupName: string, local: CheckpointStore): { checkpoints: CheckpointStore; active: () => boolean } {
  const name = `audit-poller:${logGroupName}`
  const lease = cluster.lease(name)
  const store = cluster.store
  const key = store.key(`audit-checkpoint:${logGroupName}`)
  return {
    active: () => lease.leader,
    checkpoints: {
      async read() {
        const value = await store.command<string | null>('checkpoint', 'GET', key)
        // The first reader after a single poller was scaled out continues from its file.
        return value ? (JSON.parse(value) as Checkpoint) : local.read()
      },
      async write(c) {
        if (!(await cluster.flush())) throw new Error('the shared store cannot take the detections yet: checkpoint kept')
        const fence = lease.fence
        if (fence === undefined || (await store.run<number>(CHECKPOINT, [key, store.key(`fence:${name}`)], [fence, JSON.stringify(c)])) !== 1) {
          throw new Error('no longer the audit poller leader: checkpoint not written')
        }
      },
    },
  }
}
