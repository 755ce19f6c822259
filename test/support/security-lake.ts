import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { S3Client, CreateBucketCommand, ListObjectsV2Command, GetObjectCommand } from '@aws-sdk/client-s3'
import type { Moto } from './moto.js'
import { ocsfProblems } from './ocsf.js'

/**
 * A Security Lake-style bucket in moto and a reader for what the sink wrote there: every object
 * listed, downloaded and read back with pyarrow (test/support/read-parquet.py), rows turned back
 * into OCSF JSON so they can be validated against the OCSF schema as written.
 */
export interface ParquetObject {
  key: string
  schema: Record<string, string>
  nullable: Record<string, boolean>
  logical: Record<string, string>
  compression: string
  kv: Record<string, string>
  rows: any[]
}

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' }
export const LAKE_BUCKET = 'aws-security-data-lake-eu-west-1-0123456789abcdef'
export const LAKE_LOCATION = `s3://${LAKE_BUCKET}/ext/falconet/1.0/`

export function lakeClient(moto: Moto, region = 'eu-west-1'): S3Client {
  return new S3Client({ region, endpoint: moto.endpoint, credentials, forcePathStyle: true })
}

export async function createLakeBucket(s3: S3Client, region = 'eu-west-1'): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: LAKE_BUCKET, CreateBucketConfiguration: { LocationConstraint: region as never } }))
}

export async function lakeKeys(s3: S3Client): Promise<string[]> {
  const keys: string[] = []
  let ContinuationToken: string | undefined
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: LAKE_BUCKET, ContinuationToken }))
    keys.push(...(page.Contents ?? []).map((c) => c.Key!))
    ContinuationToken = page.NextContinuationToken
  } while (ContinuationToken)
  return keys.sort()
}

export async function readLake(s3: S3Client): Promise<ParquetObject[]> {
  const keys = await lakeKeys(s3)
  if (keys.length === 0) return []
  const dir = mkdtempSync(join(tmpdir(), 'falconet-lake-'))
  const files = await Promise.all(
    keys.map(async (key, i) => {
      const out = await s3.send(new GetObjectCommand({ Bucket: LAKE_BUCKET, Key: key }))
      const file = join(dir, `${i}.parquet`)
      writeFileSync(file, await out.Body!.transformToByteArray())
      return file
    }),
  )
  const script = new URL('./read-parquet.py', import.meta.url).pathname
  const read = JSON.parse(execFileSync('python3', [script, ...files], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 })) as Array<Omit<ParquetObject, 'key'>>
  return read.map((o, i) => ({ ...o, key: keys[i]! }))
}

/** Every row of every object, each checked against the OCSF schema by the caller. */
export function invalidRows(objects: ParquetObject[]): string[] {
  return objects.flatMap((o) => o.rows.flatMap((r, i) => ocsfProblems(r).map((p) => `${o.key} row ${i}: ${p}`)))
}

/** The latest row per finding uid (rows are snapshots: the newest holds the finding's count). */
export function latestRows(objects: ParquetObject[]): Map<string, any> {
  const latest = new Map<string, any>()
  for (const row of objects.flatMap((o) => o.rows)) {
    const prev = latest.get(row.finding_info.uid)
    if (!prev || row.count > prev.count || (row.count === prev.count && row.time > prev.time)) latest.set(row.finding_info.uid, row)
  }
  return latest
}
