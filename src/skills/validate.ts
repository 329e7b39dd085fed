import { z } from 'zod';
import type { SkillParameters } from './types.js';

export type ArgsCheck = { ok: true; args: Record<string, unknown> } | { ok: false; message: string };

/**
 * A zod validator built from a skill's JSON schema (as host.py derived it from the signature).
 * Arguments are checked here, before any process starts; the refusal names every bad argument.
 */
export function compileArgsValidator(parameters: SkillParameters): (args: unknown) => ArgsCheck {
  const shape: Record<string, z.ZodType> = {};
  const required = new Set(parameters.required);
  for (const [name, property] of Object.entries(parameters.properties)) {
    const type = propertyType(property);
    shape[name] = required.has(name) ? type : type.optional();
  }
  const schema = z.strictObject(shape);
  return (args) => {
    const input = args === undefined || args === null ? {} : args;
    const parsed = schema.safeParse(input);
    if (parsed.success) return { ok: true, args: parsed.data as Record<string, unknown> };
    return { ok: false, message: describe(parsed.error.issues, parameters, input) };
  };
}

function propertyType(property: Record<string, unknown>): z.ZodType {
  const types = Array.isArray(property.type) ? (property.type as string[]) : [property.type as string | undefined];
  const nullable = types.includes('null') || (Array.isArray(property.enum) && property.enum.includes(null));
  let base: z.ZodType;
  if (Array.isArray(property.enum)) {
    const values = property.enum.filter((v): v is string | number | boolean => v !== null);
    base = z.union(values.map((v) => z.literal(v)) as unknown as [z.ZodLiteral, z.ZodLiteral, ...z.ZodLiteral[]]);
    if (values.length === 1) base = z.literal(values[0]!);
  } else {
    base = primitive(types.find((t) => t !== 'null'), property.items as Record<string, unknown> | undefined);
  }
  return nullable ? base.nullable() : base;
}

function primitive(type: string | undefined, items: Record<string, unknown> | undefined): z.ZodType {
  switch (type) {
    case 'string':
      return z.string();
    case 'integer':
      return z.number().int();
    case 'number':
      return z.number();
    case 'boolean':
      return z.boolean();
    case 'array':
      return z.array(items ? propertyType(items) : z.unknown());
    default:
      return z.unknown();
  }
}

function describe(issues: readonly z.core.$ZodIssue[], parameters: SkillParameters, input: unknown): string {
  const given = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : {};
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = Object.keys(parameters.properties);
      for (const key of issue.keys) {
        lines.push(`unknown argument "${key}" (${known.length ? `expected: ${known.join(', ')}` : 'this skill takes no arguments'})`);
      }
      continue;
    }
    if (issue.path.length === 0) {
      lines.push('arguments must be a JSON object');
      continue;
    }
    const name = String(issue.path[0]);
    const property = parameters.properties[name];
    if (issue.path.length === 1 && given[name] === undefined && property) {
      lines.push(`missing required argument "${name}" (${typeName(property)})`);
    } else {
      const where = issue.path.length > 1 ? `${name}[${issue.path.slice(1).join('][')}]` : name;
      lines.push(`argument "${where}" must be ${property ? typeName(property) : 'valid'}`);
    }
  }
  return `Invalid arguments: ${[...new Set(lines)].join('; ')}`;
}

/** "a string", "an integer", "one of "a", "b"", "a list of strings", "... or null". */
export function typeName(property: Record<string, unknown>): string {
  const types = Array.isArray(property.type) ? (property.type as string[]) : [property.type as string];
  const orNull = types.includes('null') ? ' or null' : '';
  if (Array.isArray(property.enum)) {
    return `one of ${property.enum.filter((v) => v !== null).map((v) => JSON.stringify(v)).join(', ')}${orNull}`;
  }
  const base = types.find((t) => t !== 'null');
  const names: Record<string, string> = { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false' };
  if (base === 'array') {
    const items = property.items as Record<string, unknown> | undefined;
    const inner = items ? typeName(items).replace(/^an? /, '') : 'value';
    return `a list of ${inner}s${orNull}`;
  }
  return `${names[base ?? ''] ?? 'a value'}${orNull}`;
}
