import { errorSummary } from '../aws/errors.js'
import type { EKSClient } from '@aws-sdk/client-eks'
import type { Logger } from 'pino'
import type { PodIdentityRoles } from './iam.js'

/**
 * EKS Pod Identity roles from the EKS API (ListPodIdentityAssociations + Describe), cached per
 * namespace/service account. Lookups never wait: a miss starts a background fetch (one per key at
 * a time) and answers "unknown" now; pods using Pod Identity are prefetched as they appear, so the
 * role is usually known before the first alert. AWS_ENDPOINT_URL_EKS redirects it (tests).
 */
export class PodIdentityCache implements PodIdentityRoles {
  #client: EKSClient | undefined
  readonly #region: string
  readonly #cluster: string
  readonly #ttlMs: number
  readonly #logger: Logger
  readonly #roles = new Map<string, { roleArn?: string; at: number; failed?: boolean }>()
  readonly #inFlight = new Map<string, Promise<void>>()

  constructor(options: { clusterName: string; region: string; ttlMs: number; logger: Logger }) {
    this.#region = options.region
    this.#cluster = options.clusterName
    this.#ttlMs = options.ttlMs
    this.#logger = options.logger.child({ component: 'pod-identity' })
  }

  roleFor(namespace: string, serviceAccount: string): string | undefined {
    void this.prefetch(namespace, serviceAccount)
    return this.#roles.get(`${namespace}/${serviceAccount}`)?.roleArn
  }

  /** Fetches unless a fresh answer (or a recent failure: one minute) is cached or a fetch is under way. */
  prefetch(namespace: string, serviceAccount: string): Promise<void> {
    const key = `${namespace}/${serviceAccount}`
    const running = this.#inFlight.get(key)
    if (running !== undefined) return running
    const cached = this.#roles.get(key)
    if (cached && Date.now() - cached.at < (cached.failed ? 60_000 : this.#ttlMs)) return Promise.resolve()
    const fetch = this.#fetch(namespace, serviceAccount)
      .then((roleArn) => void this.#roles.set(key, { ...(roleArn ? { roleArn } : {}), at: Date.now() }))
      .catch((err) => {
        this.#roles.set(key, { ...(cached?.roleArn ? { roleArn: cached.roleArn } : {}), at: Date.now(), failed: true })
        this.#logger.warn({ namespace, serviceAccount, err: errorSummary(err) }, 'cannot look up the Pod Identity association (retried in a minute)')
      })
      .finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, fetch)
    return fetch
  }

  async #fetch(namespace: string, serviceAccount: string): Promise<string | undefined> {
    const { EKSClient, ListPodIdentityAssociationsCommand, DescribePodIdentityAssociationCommand } = await import('@aws-sdk/client-eks')
    this.#client ??= new EKSClient({ region: this.#region, maxAttempts: 3 })
    const list = await this.#client.send(new ListPodIdentityAssociationsCommand({ clusterName: this.#cluster, namespace, serviceAccount }))
    const id = list.associations?.[0]?.associationId
    if (!id) return undefined
    const described = await this.#client.send(new DescribePodIdentityAssociationCommand({ clusterName: this.#cluster, associationId: id }))
    return described.association?.roleArn
  }

  close(): void {
    this.#client?.destroy()
  }
}
