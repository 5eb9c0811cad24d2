/**
 * `sipfx serve`: the registrar (RFC 3261 §10.3) and a redirect server (§8.3) on UDP and TCP.
 * Flags win over SIPFX_* environment variables, which win over `--config file.json`.
 */
import { readFileSync } from "node:fs"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Config, Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import * as Serve from "./Serve.ts"

const list = (name: string, env: string, description: string) =>
  Flag.String(name).pipe(
    Flag.atLeast(1),
    Flag.withFallbackConfig(Config.String(env).pipe(Config.map((s) => [s]))),
    Flag.optional,
    Flag.withDescription(`${description} (repeat or separate with commas; env ${env})`),
  )

const text = (name: string, env: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withFallbackConfig(Config.String(env)),
    Flag.optional,
    Flag.withDescription(`${description} (env ${env})`),
  )

const int = (name: string, env: string, description: string) =>
  Flag.Int(name).pipe(
    Flag.withFallbackConfig(Config.Int(env)),
    Flag.optional,
    Flag.withDescription(`${description} (env ${env})`),
  )

const flags = {
  listen: list("listen", "SIPFX_LISTEN", "listen URL, default udp://127.0.0.1:5060 and tcp://127.0.0.1:5060"),
  domain: list("domain", "SIPFX_DOMAIN", "domain served by the registrar (default: any)"),
  user: list("user", "SIPFX_USER", "closed list of users allowed to register (default: anyone)"),
  location: text("location", "SIPFX_LOCATION", "location service: memory (default) or redis://host:port"),
  realm: text("realm", "SIPFX_REALM", "digest realm: enables authentication (credentials from the config file)"),
  minExpires: int("min-expires", "SIPFX_MIN_EXPIRES", "shortest registration accepted, seconds (423 below; 60)"),
  maxExpires: int("max-expires", "SIPFX_MAX_EXPIRES", "longest registration granted, seconds (7200)"),
  udpReceiveBuffer: int(
    "udp-receive-buffer",
    "SIPFX_UDP_RECEIVE_BUFFER",
    "UDP socket receive buffer in bytes, capped by net.core.rmem_max (4194304)",
  ),
  peer: list(
    "peer",
    "SIPFX_PEER",
    "where the proxy may send besides registered contacts (address[:port] or a.b.c.d/len)",
  ),
  redirect: Flag.Boolean("redirect").pipe(
    Flag.withDefault(false),
    Flag.withDescription("answer INVITE, MESSAGE, SUBSCRIBE, REFER with 302 instead of proxying them"),
  ),
  config: Flag.String("config").pipe(
    Flag.optional,
    Flag.withDescription(
      "JSON file with any of: listen, domains, users, location, minExpires, maxExpires, defaultExpires, auth {realm, secret, credentials}, mappings, udpReceiveBuffer",
    ),
  ),
}

type Parsed = {
  readonly [K in keyof typeof flags]: (typeof flags)[K] extends Flag.Flag<infer A> ? A : never
}

const split = (o: Option.Option<ReadonlyArray<string>>): ReadonlyArray<string> | undefined =>
  Option.isNone(o)
    ? undefined
    : o.value
        .flatMap((v) => v.split(","))
        .map((v) => v.trim())
        .filter((v) => v !== "")

/** flags, else environment (done by the flags), else the file, else the defaults */
export const resolveConfig = (p: Parsed): Serve.ServeConfig => {
  const file: Partial<Serve.ServeConfig> = Option.isSome(p.config)
    ? (JSON.parse(readFileSync(p.config.value, "utf8")) as Partial<Serve.ServeConfig>)
    : {}
  const d = Serve.defaults
  const fileAuth = file.auth
  const realm = Option.getOrUndefined(p.realm) ?? fileAuth?.realm
  return {
    listen: split(p.listen) ?? file.listen ?? d.listen,
    domains: split(p.domain) ?? file.domains ?? d.domains,
    users: split(p.user) ?? file.users ?? d.users,
    location: Option.getOrUndefined(p.location) ?? file.location ?? d.location,
    minExpires: Option.getOrUndefined(p.minExpires) ?? file.minExpires ?? d.minExpires,
    maxExpires: Option.getOrUndefined(p.maxExpires) ?? file.maxExpires ?? d.maxExpires,
    defaultExpires: file.defaultExpires ?? d.defaultExpires,
    mappings: file.mappings ?? d.mappings,
    peers: split(p.peer) ?? file.peers ?? d.peers,
    redirect: p.redirect || (file.redirect ?? d.redirect),
    udpReceiveBuffer: Option.getOrUndefined(p.udpReceiveBuffer) ?? file.udpReceiveBuffer ?? d.udpReceiveBuffer,
    auth:
      realm === undefined
        ? undefined
        : {
            realm,
            secret: fileAuth?.secret ?? crypto.randomUUID(),
            credentials: fileAuth?.credentials ?? {},
          },
  }
}

const serve = Command.make("serve", flags, (parsed) =>
  Effect.gen(function* () {
    const config = resolveConfig(parsed)
    yield* Effect.logInfo(
      `sipfx serve: location ${config.location.replace(/\/\/[^@/]*@/, "//")}, domains ${config.domains.join(",") || "any"}${config.auth ? `, digest realm ${config.auth.realm}` : ""}`,
    )
    // runs until SIGINT/SIGTERM interrupts it; the Layer's finalizers close every socket
    return yield* Layer.launch(Serve.layer(config))
  }),
).pipe(Command.withDescription("run the registrar and proxy (or redirect server) (loopback UDP+TCP 5060 by default)"))

const root = Command.make("sipfx").pipe(
  Command.withDescription("sipfx: SIP servers on Effect"),
  Command.withSubcommands([serve]),
)

root.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
