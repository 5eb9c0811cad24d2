/**
 * Where a server finds a user's secret for a realm: the password, or HA1 values computed
 * beforehand (one per hash, since H(username:realm:password) depends on the algorithm).
 */
import { Context, Data, Effect, Layer } from "effect"
import type { Algorithm } from "./Algorithm.ts"

export type Secret =
  | { readonly _tag: "Password"; readonly password: string }
  | { readonly _tag: "Ha1"; readonly ha1: Partial<Record<Algorithm, string>> }

export class CredentialsError extends Data.TaggedError("CredentialsError")<{
  readonly reason: string
  readonly cause?: unknown
}> {}

export class Credentials extends Context.Service<
  Credentials,
  {
    /** The secret of `username` in `realm`, or undefined for an unknown user. */
    readonly lookup: (username: string, realm: string) => Effect.Effect<Secret | undefined, CredentialsError>
  }
>()("@sipfx/auth/Credentials") {
  /** An in-memory store: realm → username → password or HA1 values. */
  static readonly layer = (table: Table): Layer.Layer<Credentials> => Layer.succeed(Credentials, fromRecord(table))
}

/** realm → username → password, or HA1 values keyed by algorithm (`MD5`, `SHA-256`, …). */
export type Table = Readonly<
  Record<string, Readonly<Record<string, string | { readonly ha1: Partial<Record<Algorithm, string>> }>>>
>

export const password = (password: string): Secret => ({ _tag: "Password", password })

/** An in-memory store from a record. */
export const fromRecord = (table: Table) =>
  Credentials.of({
    lookup: (username, realm) =>
      Effect.sync(() => {
        const users = Object.hasOwn(table, realm) ? table[realm] : undefined
        const entry = users !== undefined && Object.hasOwn(users, username) ? users[username] : undefined
        if (entry === undefined) return undefined
        return typeof entry === "string" ? password(entry) : { _tag: "Ha1", ha1: entry.ha1 }
      }),
  })
