import type { FastifyServerOptions } from 'fastify';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;

/**
 * Fastify's schema compilers, replaced by ones that refuse. No route of ours declares a schema
 * (what enters is checked where it enters: zod for config and updates, a plain check for the
 * webhook's envelope), but Fastify's defaults load Ajv, its formats and fast-json-stringify
 * (about 100 files, ~1 MB of heap) when a server is built, whether a schema ever comes or not.
 * A route that declares one fails when it is registered, naming the route (a programming error,
 * so a plain Error, not one of the catalogue's).
 */
export const noSchemaCompilers: SchemaController = {
  compilersFactory: {
    buildValidator: () => refuse,
    buildSerializer: () => refuse,
  },
};

function refuse(route: { method?: string; url?: string }): never {
  throw new Error(`${route.method ?? ''} ${route.url ?? ''}: route schemas are not compiled here; validate with zod where the data enters`);
}
