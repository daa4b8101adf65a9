// Linli's typed client: openapi-fetch over the types openapi-typescript generates from the gateway's aggregated
// OpenAPI document (generated/linli.d.ts; `npm run generate`, see README.md). Every path, parameter, body and
// answer is checked by the compiler against that document.
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "../generated/linli.js";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type LinliClient = Client<paths>;

/** A client of the gateway at `baseUrl` (e.g. https://linli.example.gov.cn). */
export function linliClient(baseUrl: string): LinliClient {
  return createClient<paths>({ baseUrl });
}

/** Sends `Authorization: Bearer <token>` with every request once `token()` has one (after sign-in). */
export function bearerAuth(token: () => string | undefined): Middleware {
  return {
    onRequest({ request }) {
      const value = token();
      if (value) {
        request.headers.set("Authorization", `Bearer ${value}`);
      }
      return request;
    },
  };
}

/** A refusal of the API (problem+json: `code`, `detail`) as an Error a caller can show or log. */
export class LinliError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly problem: unknown,
  ) {
    super(`${operation}: ${status} ${JSON.stringify(problem)}`);
  }
}

/** The answer's data, or a LinliError carrying the problem the API answered. */
export function expect<T>(operation: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new LinliError(operation, result.response.status, result.error);
  }
  return result.data;
}
