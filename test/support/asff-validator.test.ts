import t from 'tap'
import { loadSecurityHubModel, validateFinding } from './asff-validator.js'

type Finding = Record<string, any>
/** Works for the root `t` and for subtests alike. */
type Assertions = Pick<typeof t, 'ok'>

/** Smallest finding that satisfies both the model and the documented rules. */
function goodFinding(): Finding {
  return {
    SchemaVersion: '2018-10-08',
    Id: 'falconet/0123456789abcdef',
    ProductArn: 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default',
    GeneratorId: 'falco/Terminal shell in container',
    AwsAccountId: '111122223333',
    Types: ['TTPs/Execution'],
    CreatedAt: '2024-05-01T12:00:00.000Z',
    UpdatedAt: '2024-05-01T12:00:00.000Z',
    Severity: { Label: 'HIGH' },
    Title: 'Terminal shell in container',
    Description: 'A shell was spawned in a container with an attached terminal.',
    Resources: [{ Type: 'Other', Id: 'x' }],
  }
}

/** Validates a copy of the good finding after applying `mutate` to it. */
function errorsAfter(mutate: (f: Finding) => void): string[] {
  const finding = structuredClone(goodFinding())
  mutate(finding)
  return validateFinding(finding)
}

/**
 * Asserts that some error is reported for exactly `path` (errors look like
 * "<path>: <message>") and that its message contains `fragment`.
 */
function assertError(t: Assertions, errors: string[], path: string, fragment: string | RegExp): void {
  const hit = errors.find((e) => {
    if (!e.startsWith(`${path}: `)) return false
    const message = e.slice(path.length + 2)
    return typeof fragment === 'string' ? message.includes(fragment) : fragment.test(message)
  })
  t.ok(hit, `error at ${path} mentioning ${String(fragment)}`, { errors })
}

t.test('loads the Security Hub model from botocore', async (t) => {
  const model = loadSecurityHubModel()
  t.equal(model.shapes['AwsSecurityFinding']?.type, 'structure')
  t.equal(loadSecurityHubModel(), model, 'model is cached')
})

t.test('the minimal good finding is valid', async (t) => {
  t.same(validateFinding(goodFinding()), [])
})

t.test('a richer realistic finding is valid', async (t) => {
  const errors = errorsAfter((f) => {
    f.FirstObservedAt = '2024-05-01T11:59:59.123456789+02:00'
    f.LastObservedAt = '2024-05-01T12:00:00-0100'
    f.ProductFields = { 'falco/rule': 'Terminal shell in container', 'falco/priority': 'Warning' }
    f.UserDefinedFields = { team: 'platform' }
    f.Process = { Name: 'bash', Path: '/bin/bash', Pid: 4242, ParentPid: 1, LaunchedAt: '2024-05-01T11:59:58Z' }
    f.Resources[0].Details = {
      Container: { Name: 'web', ImageName: 'nginx:1.27', ImageId: 'sha256:abc', Privileged: false },
    }
    f.Severity = { Label: 'CRITICAL', Original: 'Critical' }
    f.Types.push('Unusual Behaviors/Process/Shell')
  })
  t.same(errors, [])
})

t.test('rejects a non-object finding', async (t) => {
  assertError(t, validateFinding('nope'), '(finding)', 'must be an object')
})

t.test('missing required member', async (t) => {
  assertError(
    t,
    errorsAfter((f) => delete f.Title),
    'Title',
    'is required',
  )
  assertError(
    t,
    errorsAfter((f) => delete f.Resources[0].Id),
    'Resources[0].Id',
    'is required',
  )
})

t.test('documented-required members absent from the model required list', async (t) => {
  assertError(
    t,
    errorsAfter((f) => delete f.Severity),
    'Severity',
    'required',
  )
  assertError(
    t,
    errorsAfter((f) => delete f.Types),
    'Types',
    'required',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Severity = { Original: 'x' })),
    'Severity',
    'Label',
  )
})

t.test('unknown top-level key', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Bogus = 1)),
    'Bogus',
    'is not a member of AwsSecurityFinding',
  )
})

t.test('nested unknown member', async (t) => {
  const errors = errorsAfter((f) => (f.Resources[0].Details = { Container: { Bogus: 'x' } }))
  assertError(t, errors, 'Resources[0].Details.Container.Bogus', 'is not a member of ContainerDetails')
})

t.test('bad enum value', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Severity.Label = 'SEVERE')),
    'Severity.Label',
    'is not one of',
  )
})

t.test('wrong type', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Title = 42)),
    'Title',
    'must be a string',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Resources = {})),
    'Resources',
    'must be an array',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Title = null)),
    'Title',
    'is null',
  )
})

t.test('NonEmptyString rejects empty and blank strings', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Resources[0].Type = '')),
    'Resources[0].Type',
    'must not be empty',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Description = '   ')),
    'Description',
    'pattern',
  )
})

t.test('string length limits', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Title = 'x'.repeat(257))),
    'Title',
    'exceeds the maximum 256',
  )
  t.same(
    errorsAfter((f) => (f.Title = 'x'.repeat(256))),
    [],
    '256 characters is fine',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Description = 'x'.repeat(1025))),
    'Description',
    'maximum 1024',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Id = 'x'.repeat(513))),
    'Id',
    'maximum 512',
  )
  assertError(
    t,
    errorsAfter((f) => (f.GeneratorId = 'x'.repeat(513))),
    'GeneratorId',
    'maximum 512',
  )
  // Limit that only the model's member documentation states.
  assertError(
    t,
    errorsAfter((f) => (f.Process = { Name: 'x'.repeat(65) })),
    'Process.Name',
    'maximum 64',
  )
})

t.test('identity fields', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.SchemaVersion = '2018-10-09')),
    'SchemaVersion',
    '2018-10-08',
  )
  assertError(
    t,
    errorsAfter((f) => (f.AwsAccountId = '1234')),
    'AwsAccountId',
    '12 digits',
  )
  assertError(
    t,
    errorsAfter((f) => (f.ProductArn = 'arn:aws:securityhub:eu-west-1:111122223333:default')),
    'ProductArn',
    'is not arn:',
  )
})

t.test('ProductFields limits', async (t) => {
  const tooMany = errorsAfter((f) => {
    f.ProductFields = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']))
  })
  assertError(t, tooMany, 'ProductFields', 'has 51 key-value pairs')
  t.same(
    errorsAfter((f) => (f.ProductFields = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'])))),
    [],
    '50 pairs is fine',
  )
  assertError(
    t,
    errorsAfter((f) => (f.ProductFields = { 'aws/securityhub/x': 'v' })),
    'ProductFields["aws/securityhub/x"] (key)',
    'reserved',
  )
  assertError(
    t,
    errorsAfter((f) => (f.ProductFields = { k: 'v'.repeat(2049) })),
    'ProductFields.k',
    'maximum 2048',
  )
  assertError(
    t,
    errorsAfter((f) => (f.ProductFields = { ['k'.repeat(129)]: 'v' })),
    `ProductFields.${'k'.repeat(129)} (key)`,
    'maximum 128',
  )
  assertError(
    t,
    errorsAfter((f) => (f.ProductFields = { k: 7 })),
    'ProductFields.k',
    'must be a string',
  )
})

t.test('UserDefinedFields limits', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.UserDefinedFields = { k: 'v'.repeat(1025) })),
    'UserDefinedFields.k',
    'maximum 1024',
  )
})

t.test('Resources item count', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Resources = [])),
    'Resources',
    'at least 1',
  )
  const many = errorsAfter((f) => {
    f.Resources = Array.from({ length: 33 }, (_, i) => ({ Type: 'Other', Id: `r${i}` }))
  })
  assertError(t, many, 'Resources', 'at most 32')
})

t.test('Types taxonomy and count', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Types = ['Bogus/Execution'])),
    'Types[0]',
    'unknown namespace',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Types = ['TTPs/a/b/c'])),
    'Types[0]',
    'namespace[/category[/classifier]]',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Types = [])),
    'Types',
    'at least 1',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Types = Array.from({ length: 51 }, () => 'TTPs'))),
    'Types',
    'at most 50',
  )
})

t.test('integers', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.Process = { Pid: 1.5 })),
    'Process.Pid',
    'must be an integer',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Process = { Pid: '12' })),
    'Process.Pid',
    'must be an integer',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Process = { Pid: 2 ** 31 })),
    'Process.Pid',
    'exceeds the maximum',
  )
  assertError(
    t,
    errorsAfter((f) => (f.Severity.Normalized = 101)),
    'Severity.Normalized',
    'exceeds the maximum 100',
  )
})

t.test('timestamps', async (t) => {
  assertError(
    t,
    errorsAfter((f) => (f.CreatedAt = 'yesterday')),
    'CreatedAt',
    'ISO 8601',
  )
  assertError(
    t,
    errorsAfter((f) => (f.CreatedAt = '2024-05-01T12:00:00')),
    'CreatedAt',
    'ISO 8601',
  )
  assertError(
    t,
    errorsAfter((f) => (f.CreatedAt = '2024-02-30T12:00:00Z')),
    'CreatedAt',
    'not a valid calendar',
  )
  assertError(
    t,
    errorsAfter((f) => (f.UpdatedAt = '2024-05-01T12:00:00.1234567890Z')),
    'UpdatedAt',
    'at most 9',
  )
  assertError(
    t,
    errorsAfter((f) => (f.UpdatedAt = '2024-05-01T11:00:00Z')),
    'UpdatedAt',
    'earlier than CreatedAt',
  )
  assertError(
    t,
    errorsAfter((f) => {
      f.FirstObservedAt = '2024-05-01T12:00:00Z'
      f.LastObservedAt = '2024-05-01T11:00:00Z'
    }),
    'LastObservedAt',
    'earlier than FirstObservedAt',
  )
  // Timestamp members nested in the model are recognised too.
  assertError(
    t,
    errorsAfter((f) => (f.Process = { LaunchedAt: '01/05/2024' })),
    'Process.LaunchedAt',
    'ISO 8601',
  )
})

t.test('whole finding larger than 240 KB', async (t) => {
  // 32 resources x 8 KB of tags: every individual value is within limits.
  const errors = errorsAfter((f) => {
    f.Resources = Array.from({ length: 32 }, (_, i) => ({
      Type: 'Other',
      Id: `r${i}`,
      Tags: Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`t${j}`, 'x'.repeat(1000)])),
    }))
  })
  assertError(t, errors, '(finding)', /serialized size \d+ bytes exceeds the 240 KB/)
  t.equal(errors.length, 1, 'size is the only problem', { errors })
})
