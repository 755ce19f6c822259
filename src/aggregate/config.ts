import { Type } from 'typebox'

export const findingsSchema = Type.Object(
  {
    keyFields: Type.Record(Type.String(), Type.Array(Type.String()), {
      default: {},
      description: 'Per rule name, the raw fields (e.g. `proc.cmdline`, `fd.name`) that also distinguish one finding from another. ' + 'Without an entry a finding is one rule on one container (or host); k8s_audit alerts, which name no pod, use all their fields.',
    }),
    windowSecs: Type.Integer({
      minimum: 1,
      default: 86_400,
      description: 'Repeats of one finding within this long of the previous one are counted into it; after a longer silence the count starts again (same Id).',
    }),
  },
  { default: {} },
)
