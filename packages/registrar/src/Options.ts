/** What a registrar is configured with (RFC 3261 §10.3). */
import type { Authenticator } from "@sipfx/auth"

export interface Options {
  /**
   * Domains whose bindings this registrar holds (§10.3 step 1), compared case-insensitively
   * with the Request-URI host and the To host. Absent: every domain.
   */
  readonly domains?: ReadonlyArray<string> | undefined
  /**
   * A closed list of users (the user part of the AOR). A REGISTER for anyone else gets 404
   * (§10.3 step 5). Absent: any user may register.
   */
  readonly users?: ReadonlyArray<string> | undefined
  /** Digest authentication (§10.3 step 3); needs the `Credentials` service. Absent: none. */
  readonly auth?: Omit<Authenticator.Options, "kind"> | undefined
  /**
   * §10.3 step 4: may the authenticated `username` change the bindings of `aor`?
   * Default: the username equals the AOR's user part.
   */
  readonly authorize?:
    | ((username: string, aor: { readonly user: string | undefined; readonly text: string }) => boolean)
    | undefined
  /** seconds (default 3600, §10.2.1.1) when neither the Contact nor the request gives one */
  readonly defaultExpires?: number | undefined
  /** shortest accepted interval, seconds (default 60); shorter ones get 423 (§10.3 step 7) */
  readonly minExpires?: number | undefined
  /** longest granted interval, seconds (default 7200); longer requests are shortened */
  readonly maxExpires?: number | undefined
  /**
   * RFC 3327 §5.3: a Path without `Supported: path` from the UA gets 420 (the recommended
   * policy). Set false to store the Path anyway.
   */
  readonly requireSupportedPath?: boolean | undefined
}

export interface Resolved {
  readonly domains: ReadonlySet<string> | undefined
  readonly users: ReadonlySet<string> | undefined
  readonly defaultExpires: number
  readonly minExpires: number
  readonly maxExpires: number
  readonly requireSupportedPath: boolean
  readonly authorize: (username: string, aor: { readonly user: string | undefined; readonly text: string }) => boolean
}

export const resolve = (o: Options): Resolved => {
  const minExpires = o.minExpires ?? 60
  return {
    domains: o.domains === undefined ? undefined : new Set(o.domains.map((d) => d.toLowerCase())),
    users: o.users === undefined ? undefined : new Set(o.users),
    defaultExpires: o.defaultExpires ?? 3600,
    minExpires,
    maxExpires: Math.max(minExpires, o.maxExpires ?? 7200),
    requireSupportedPath: o.requireSupportedPath ?? true,
    authorize: o.authorize ?? ((username, aor) => aor.user !== undefined && aor.user === username),
  }
}
