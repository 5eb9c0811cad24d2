/**
 * Stream connections (TCP, TLS, WebSocket) and their registry: lookup by id for
 * responses (RFC 3261 §18.2.2), by remote address for reuse (§18.1.1), per-address
 * limits, and the idle sweep.
 */
import type { Protocol } from "./Transport.ts"

export interface Connection {
  readonly id: string
  readonly protocol: Protocol
  readonly address: string
  readonly port: number
  readonly local: { readonly address: string; readonly port: number }
  /** accepted by a listener (true) or dialled by us */
  readonly inbound: boolean
  lastActivity: number
  write(bytes: Uint8Array, done: (error: Error | undefined) => void): void
  /** closes now; `reason` is only informative */
  destroy(reason: string): void
}

export const remoteKey = (protocol: Protocol, address: string, port: number): string => `${protocol}|${address}|${port}`

let nextId = 0
export const newConnectionId = (protocol: Protocol): string => `${protocol.toLowerCase()}-${(++nextId).toString(36)}`

export class Registry {
  private readonly byId = new Map<string, Connection>()
  private readonly byRemote = new Map<string, Connection>()
  private readonly perAddress = new Map<string, number>()

  get size(): number {
    return this.byId.size
  }

  /** inbound connections currently open from this IP */
  countFrom(address: string): number {
    return this.perAddress.get(address) ?? 0
  }

  add(connection: Connection): void {
    this.byId.set(connection.id, connection)
    this.byRemote.set(remoteKey(connection.protocol, connection.address, connection.port), connection)
    if (connection.inbound) this.perAddress.set(connection.address, this.countFrom(connection.address) + 1)
  }

  remove(connection: Connection): void {
    if (this.byId.get(connection.id) !== connection) return
    this.byId.delete(connection.id)
    const key = remoteKey(connection.protocol, connection.address, connection.port)
    if (this.byRemote.get(key) === connection) this.byRemote.delete(key)
    if (connection.inbound) {
      const n = this.countFrom(connection.address) - 1
      if (n <= 0) this.perAddress.delete(connection.address)
      else this.perAddress.set(connection.address, n)
    }
  }

  get(id: string): Connection | undefined {
    return this.byId.get(id)
  }

  toRemote(protocol: Protocol, address: string, port: number): Connection | undefined {
    return this.byRemote.get(remoteKey(protocol, address, port))
  }

  /** closes connections silent since before `olderThan`; returns how many */
  sweep(olderThan: number): number {
    let closed = 0
    for (const c of this.byId.values()) {
      if (c.lastActivity < olderThan) {
        c.destroy("idle timeout")
        this.remove(c)
        closed++
      }
    }
    return closed
  }

  destroyAll(): void {
    for (const c of [...this.byId.values()]) {
      c.destroy("transport closed")
      this.remove(c)
    }
  }
}
