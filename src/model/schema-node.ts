import type { TSchema, TSchemaOptions } from 'typebox'

/**
 * A JSON Schema as the schema walkers read it (the docs table, env overrides, closing objects,
 * delivery defaults): the keywords they look at, over TypeBox's options (description, default…).
 * TypeBox's `TSchema` names no keyword, so a walker that goes into any schema reads it as this.
 */
export interface SchemaNode extends Pick<TSchemaOptions, 'description' | 'default'> {
  type?: string
  properties?: Record<string, SchemaNode>
  additionalProperties?: boolean | SchemaNode
  patternProperties?: Record<string, SchemaNode>
  items?: SchemaNode
  anyOf?: SchemaNode[]
  oneOf?: SchemaNode[]
  enum?: readonly unknown[]
  const?: unknown
  minimum?: number
  maximum?: number
  pattern?: string
}

/** A schema's keywords; a boolean schema (`additionalProperties: false`) has none to read. */
export function keywordsOf(schema: TSchema | SchemaNode | boolean | undefined): SchemaNode | undefined {
  return typeof schema === 'object' ? schema : undefined
}

/** A TypeBox schema read as its keywords (every TypeBox schema is a JSON Schema object). */
export function schemaNode(schema: TSchema): SchemaNode {
  return schema
}
