import type { SipUri } from "@sipfx/message"

/** A sip/sips URI value without going through a parser. */
export const sipUri = (
  host: string,
  options: {
    scheme?: "sip" | "sips"
    port?: number
    user?: string
    params?: ReadonlyArray<readonly [string, string | null]>
  } = {},
): SipUri => ({
  _tag: "SipUri",
  scheme: options.scheme ?? "sip",
  user: options.user,
  password: undefined,
  host,
  port: options.port,
  params: options.params ?? [],
  headers: [],
})

let counter = 0
/** An OPTIONS request as wire text (RFC 3261 §11), Via as given. */
export const optionsText = (
  options: {
    readonly transport?: string
    readonly viaHost?: string
    readonly viaPort?: number
    readonly rport?: boolean
    readonly callId?: string
    readonly target?: string
    readonly extraHeaders?: ReadonlyArray<string>
    readonly body?: string
  } = {},
): string => {
  const n = ++counter
  const via = `SIP/2.0/${options.transport ?? "UDP"} ${options.viaHost ?? "client.example.com"}:${options.viaPort ?? 5099}`
  const body = options.body ?? ""
  return [
    `OPTIONS ${options.target ?? "sip:bob@example.com"} SIP/2.0`,
    `Via: ${via};branch=z9hG4bK-t${n}-${Date.now().toString(36)}${options.rport ? ";rport" : ""}`,
    "Max-Forwards: 70",
    `From: <sip:alice@example.com>;tag=a${n}`,
    "To: <sip:bob@example.com>",
    `Call-ID: ${options.callId ?? `call-${n}@example.com`}`,
    "CSeq: 1 OPTIONS",
    ...(options.extraHeaders ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    "",
    body,
  ].join("\r\n")
}

/** Collects text arriving on a stream until `until` matches, or fails after `ms`. */
export const collect = (
  socket: { on(event: "data", f: (d: Buffer) => void): unknown },
  until: (text: string) => boolean,
  ms = 3000,
): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    const timer = setTimeout(() => reject(new Error(`timeout; got ${JSON.stringify(text)}`)), ms)
    socket.on("data", (d) => {
      text += d.toString("latin1")
      if (until(text)) {
        clearTimeout(timer)
        resolve(text)
      }
    })
  })

/** A self-signed certificate for 127.0.0.1/::1/localhost, made now with the openssl CLI. */
export const makeCertificate = async (): Promise<{ key: string; cert: string }> => {
  const { execFileSync } = await import("node:child_process")
  const { mkdtempSync, readFileSync, rmSync } = await import("node:fs")
  const { tmpdir } = await import("node:os")
  const { join } = await import("node:path")
  const dir = mkdtempSync(join(tmpdir(), "sipfx-tls-"))
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
      ],
      { stdio: "ignore" },
    )
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
