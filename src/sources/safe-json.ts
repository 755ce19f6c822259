import secureJson from 'secure-json-parse'

/**
 * Every body falconet reads is someone else's JSON. JSON.parse makes a `__proto__` key an own
 * property — harmless until code copies it with `obj[key] = value`, which re-points that object's
 * prototype (a Falco output_fields or GELF key can carry one). So such keys are dropped where the
 * input is parsed, the same two fastify drops from the bodies it parses (onProtoPoisoning and
 * onConstructorPoisoning: 'remove'): `__proto__`, and `constructor` holding a `prototype`. A
 * plain `constructor` value (a ConfigMap key) is data and stays.
 * secure-json-parse is fastify's own parser: JSON.parse, then a scan only when the text
 * mentions either key (escaped spellings included).
 */
export function parseJson(text: string): unknown {
  return secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' })
}

/** The keys parseJson drops, for input decoded some other way (msgpack, lossless-json). */
export function isPoisonKey(key: string, value: unknown): boolean {
  return key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, 'prototype'))
}
