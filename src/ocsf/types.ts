/**
 * The part of OCSF 1.6.0 Detection Finding (2004) falconet writes, as TypeScript. Attribute names
 * and nesting are OCSF's; the Parquet schema (parquet-schema.ts) mirrors exactly this shape.
 */
export interface NameUid {
  uid?: string
  name?: string
}

export interface OcsfUser {
  name?: string
  uid?: string
  groups?: Array<{ name: string }>
  account?: OcsfAccount
}

export interface OcsfAccount {
  uid: string
  type_id: number
  type: string
}

export interface OcsfFile {
  name: string
  path: string
  type_id: number
  type: string
}

export interface OcsfContainer {
  uid?: string
  name?: string
  image?: { uid: string; name?: string; tag?: string }
  orchestrator?: string
  pod_uuid?: string
}

export interface OcsfProcess {
  pid: number
  name?: string
  cmd_line?: string
  file?: OcsfFile
  parent_process?: { pid: number; name?: string }
  user?: { name?: string; uid?: string }
  auid?: number
  container?: OcsfContainer
}

export interface Endpoint {
  ip: string
  port?: number
}

export interface Evidence {
  process?: OcsfProcess
  file?: OcsfFile
  user?: { name?: string; uid?: string }
  container?: OcsfContainer
  src_endpoint?: Endpoint
  dst_endpoint?: Endpoint
  connection_info?: { direction_id: number; direction: string; protocol_name?: string }
  http_request?: { user_agent: string }
  api?: DetectionFinding['api']
}

export interface ResourceDetails {
  type: string
  uid?: string
  name?: string
  namespace?: string
  labels?: string[]
  hostname?: string
  region?: string
  zone?: string
  cloud_partition?: string
}

export interface DetectionFinding {
  activity_id: 1 | 2 | 3
  activity_name: string
  category_uid: 2
  category_name: string
  class_uid: 2004
  class_name: string
  type_uid: number
  type_name: string
  severity_id: number
  severity: string
  status_id: number
  status: string
  time: number
  timezone_offset: number
  start_time: number
  end_time: number
  count: number
  is_alert: boolean
  message: string
  metadata: {
    version: string
    uid: string
    correlation_uid: string
    original_time: string
    product: { name: string; vendor_name: string; version?: string }
    profiles: string[]
    labels: string[]
    log_provider: string
    is_truncated?: boolean
  }
  finding_info: {
    uid: string
    title: string
    desc: string
    created_time: number
    modified_time: number
    first_seen_time: number
    last_seen_time: number
    types: string[]
    data_sources: string[]
    analytic: { name: string; uid?: string; type_id: number; type: string; category: string }
    attacks?: Array<{ tactic?: NameUid; technique?: NameUid; sub_technique?: NameUid }>
  }
  cloud: { provider: string; region: string; cloud_partition: string; account: OcsfAccount; zone?: string }
  device?: { type_id: number; type: string; container?: OcsfContainer; hostname?: string; name?: string; instance_uid?: string; region?: string; zone?: string }
  actor?: { user: OcsfUser }
  api?: { operation: string; service: { name: string }; request?: { uid: string }; response?: { code: number } }
  evidences?: Evidence[]
  resources: ResourceDetails[]
  unmapped: Record<string, string>
}
