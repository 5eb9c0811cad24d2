/** Requests as wire text, built by hand so that our own serializer is not what is tested. */

let n = 0

/**
 * `METHOD target SIP/2.0` with a fresh branch, tag and Call-ID; the Via names `localPort`.
 * To is `sip:user@127.0.0.1`, with `toPort` when given (RFC 3261 §19.1.4: a port is significant).
 */
export const request = (
  method: string,
  target: string,
  localPort: number,
  extra: ReadonlyArray<string> = [],
  user = "probe",
  toPort?: number,
): string =>
  [
    `${method} ${target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK-probe-${process.pid}-${++n};rport`,
    "Max-Forwards: 70",
    `To: <sip:${user}@127.0.0.1${toPort === undefined ? "" : `:${toPort}`}>`,
    `From: <sip:probe@127.0.0.1>;tag=p${n}`,
    `Call-ID: probe-${process.pid}-${n}@127.0.0.1`,
    `CSeq: ${n} ${method}`,
    ...extra,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n")

/** REGISTER of `sip:user@127.0.0.1:port` (the registrar's port) with a contact at `localPort` (RFC 3261 §10.2). */
export const register = (port: number, user: string, localPort: number, expires = 300): string =>
  request(
    "REGISTER",
    `sip:127.0.0.1:${port}`,
    localPort,
    [`Contact: <sip:${user}@127.0.0.1:${localPort}>`, `Expires: ${expires}`],
    user,
    port,
  )
