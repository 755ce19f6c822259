import t from 'tap'
import { startMoto, awsEnv } from '../support/moto.js'
import { startAwsProxy } from '../support/aws-proxy.js'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { createLakeBucket, invalidRows, lakeClient, lakeKeys, latestRows, LAKE_LOCATION, readLake } from '../support/security-lake.js'

/**
 * The Security Lake custom source end to end: Falco alerts into a real falconet process, Parquet
 * objects into moto's S3 with the provider role's credentials (sts:AssumeRole with the external
 * id), read back with pyarrow: the partition layout, a stable schema with nested structs and
 * timestamp logical types, every row a valid OCSF 1.6.0 Detection Finding, counts that add up.
 */
const MOTO_ACCOUNT = '123456789012'
const ROLE = `arn:aws:iam::${MOTO_ACCOUNT}:role/AmazonSecurityLake-Provider-falconet-eu-west-1`

t.test('Falco alerts become Parquet Detection Findings in the custom source location', async (t) => {
  const moto = await startMoto()
  t.teardown(() => moto.stop())
  const s3 = lakeClient(moto)
  t.teardown(() => s3.destroy())
  await createLakeBucket(s3)
  const puts: string[] = []
  const s3Proxy = await startAwsProxy(moto.endpoint, (method, _url, headers) => {
    if (method !== 'PUT') return false
    puts.push(String(headers.authorization ?? ''))
    return true
  })
  t.teardown(() => s3Proxy.close())
  const assumeRoles: URLSearchParams[] = []
  const stsProxy = await startAwsProxy(moto.endpoint, (_m, _u, _h, body) => {
    const form = new URLSearchParams(body.toString())
    if (form.get('Action') === 'AssumeRole') assumeRoles.push(form)
    return false
  })
  t.teardown(() => stsProxy.close())

  const falconet = await startFalconet({
    ...awsEnv(moto),
    AWS_ENDPOINT_URL_STS: stsProxy.endpoint,
    AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
    FALCONET__SINKS__FILE__ENABLED: 'false',
    FALCONET__SINKS__SECURITY_LAKE__ENABLED: 'true',
    FALCONET__SINKS__SECURITY_LAKE__LOCATION: LAKE_LOCATION,
    FALCONET__SINKS__SECURITY_LAKE__ROLE_ARN: ROLE,
    FALCONET__SINKS__SECURITY_LAKE__EXTERNAL_ID: 'falconet-external-id',
    FALCONET__SINKS__SECURITY_LAKE__FORCE_PATH_STYLE: 'true',
    FALCONET__SINKS__SECURITY_LAKE__BATCH__FLUSH_INTERVAL_MS: '500',
    FALCONET__SINKS__SECURITY_LAKE__RESEND_INTERVAL_MS: '200',
    FALCONET_CLUSTER_NAME: 'prod-eu',
  })
  t.teardown(() => falconet.stop())
  const fixtures = falcoFixtures()
  const post = (body: string) => fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  for (const { body } of fixtures) t.equal((await post(body)).status, 200)
  await waitFor(
    async () => (await lakeKeys(s3)).length >= 1,
    30_000,
    () => `no object:\n${falconet.logs()}`,
  )
  // Five alerts again: their findings' next versions (count 2) go in a later object.
  for (const { body } of fixtures.slice(0, 5)) t.equal((await post(JSON.stringify({ ...JSON.parse(body), time: '2026-07-30T23:59:59.000000000Z' }))).status, 200)
  // And one more, with a later event time.
  t.equal((await post(JSON.stringify({ ...JSON.parse(fixtures[5]!.body), time: '2026-07-31T00:00:01.000000000Z' }))).status, 200)
  await falconet.stop('SIGTERM')

  const objects = await readLake(s3)
  t.ok(objects.length >= 2, `${objects.length} objects`)
  for (const o of objects) {
    t.match(o.key, /^ext\/falconet\/1\.0\/region=eu-west-1\/accountId=123456789012\/eventDay=\d{8}\/[0-9a-f]{40}\.parquet$/, 'Security Lake partition layout')
    const day = /eventDay=(\d{8})/.exec(o.key)![1]
    t.ok(
      o.rows.every((r) => new Date(r.time).toISOString().slice(0, 10).replace(/-/g, '') === day),
      `${o.key}: rows of its event day`,
    )
    t.same(
      o.rows.map((r) => r.time),
      [...o.rows.map((r) => r.time)].sort((a, b) => a - b),
      'rows sorted by time',
    )
    t.same(o.schema, objects[0]!.schema, 'the same schema in every object')
    t.match(o.compression, /^(GZIP|ZSTD)$/)
    t.equal(o.kv['ocsf.version'], '1.6.0')
  }
  const schema = objects[0]!.schema
  t.equal(schema.time, 'timestamp[ms, tz=UTC]', 'time: a UTC millisecond timestamp')
  t.equal(objects[0]!.nullable.time, false)
  t.match(objects[0]!.logical['finding_info.first_seen_time'], /Timestamp\(isAdjustedToUTC=true, timeUnit=milliseconds/)
  t.match(schema.finding_info, /^struct<uid: string not null, .*attacks: list<element: struct<tactic: struct<uid: string, name: string>, technique: struct<uid: string, name: string>/)
  t.match(schema.finding_info, /first_seen_time: timestamp\[ms, tz=UTC\]/)
  t.match(schema.evidences, /^list<element: struct<process: struct<pid: int32/)
  t.equal(schema.unmapped, "map<string, string ('unmapped')>")
  t.same(invalidRows(objects), [], 'every row is a valid OCSF 1.6.0 Detection Finding')

  const latest = latestRows(objects)
  t.equal(latest.size, fixtures.length, 'one finding per alert')
  t.equal(
    [...latest.values()].reduce((s, r) => s + r.count, 0),
    fixtures.length + 6,
    'the latest rows count every alert',
  )
  t.equal([...latest.values()].filter((r) => r.count === 2 && r.activity_id === 2 && r.type_uid === 200402).length, 6, 'the repeats are Updates')
  const shell = [...latest.values()].find((r) => r.finding_info.title === 'Terminal shell in container')
  t.match(shell, { cloud: { provider: 'AWS', region: 'eu-west-1', account: { uid: MOTO_ACCOUNT } }, finding_info: { attacks: [{ tactic: { uid: 'TA0002' }, technique: { uid: 'T1059' } }] } })
  t.ok(
    shell.resources.some((r: any) => r.type === 'AwsEksCluster' && r.name === 'prod-eu'),
    'the cluster resource',
  )
  t.ok(shell.unmapped['falconet/process.name'], 'unmapped read back as a map')

  t.ok(assumeRoles.length >= 1, 'the provider role was assumed')
  t.equal(assumeRoles[0]!.get('RoleArn'), ROLE)
  t.equal(assumeRoles[0]!.get('ExternalId'), 'falconet-external-id', 'with the external id')
  t.ok(puts.length >= 2 && puts.every((a) => /Credential=ASIA/.test(a)), "objects written with the role's temporary credentials")
})
