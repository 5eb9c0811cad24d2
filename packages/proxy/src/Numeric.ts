/**
 * RFC 3263 for a URI whose host (or `maddr`) is an IP address: no DNS question is asked, so the
 * answer is a plain call and the proxy needs no fiber for it. Names still go to the `Resolver`.
 */
import type { Uri } from "@sipfx/message"
import { type Destination, Resolver } from "@sipfx/transport"

/** The one destination of a URI with a numeric host, or `undefined` when DNS is needed. */
export const destination = (uri: Uri.Uri): Destination | undefined =>
  uri._tag === "SipUri" ? Resolver.numericDestination(uri) : undefined
