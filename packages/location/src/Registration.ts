/**
 * The binding changes of one REGISTER, applied as one step (RFC 3261 §10.3 steps 6–7).
 * Pure: both Layers run this same function on the stored bindings of one AOR, inside
 * their own atomic section, so the rules live in one place.
 */
import { Data } from "effect"
import {
  callIdOf,
  contactKey,
  contactOf,
  encodeReceived,
  flowKey,
  makeStored,
  type Received,
  type Stored,
  type StoredExt,
  storedKey,
} from "./Binding.ts"

/** One Contact of a REGISTER, with its expiration already chosen by the registrar (§10.3 step 7). */
export interface ContactChange {
  /** Contact URI (text, no display name or header params) */
  readonly contact: string
  /** seconds; 0 removes the binding */
  readonly expires: number
  /** q-value in [0, 1] */
  readonly q?: number | undefined
  readonly path?: ReadonlyArray<string> | undefined
  readonly instanceId?: string | undefined
  readonly regId?: number | undefined
  readonly received?: Received | undefined
}

/** What a REGISTER asks for; Call-ID and CSeq order the updates (§10.3 steps 6–7). */
export type Changes =
  | { readonly _tag: "Wildcard"; readonly callId: string; readonly cseq: number }
  | {
      readonly _tag: "Contacts"
      readonly callId: string
      readonly cseq: number
      readonly contacts: ReadonlyArray<ContactChange>
    }

export const wildcard = (callId: string, cseq: number): Changes => ({ _tag: "Wildcard", callId, cseq })
export const contacts = (callId: string, cseq: number, list: ReadonlyArray<ContactChange>): Changes => ({
  _tag: "Contacts",
  callId,
  cseq,
  contacts: list,
})

/** A stored binding with the same Call-ID and a CSeq not lower than the request's. */
export interface Conflict {
  readonly contact: string
  readonly callId: string
  readonly storedCseq: number
  readonly requestCseq: number
}

/**
 * §10.3 step 6/7: "the update MUST be aborted and the request fails". Nothing was changed;
 * the conflicts list every binding that refused the update.
 */
export class RegistrationConflict extends Data.TaggedError("RegistrationConflict")<{
  readonly aor: string
  readonly conflicts: ReadonlyArray<Conflict>
}> {}

/** A change the registrar should have rejected with 400 before calling the service. */
export class InvalidChange extends Data.TaggedError("InvalidChange")<{
  readonly contact: string
  readonly reason: string
}> {}

export interface Applied {
  readonly _tag: "Applied"
  readonly next: ReadonlyArray<Stored>
  readonly added: number
  readonly refreshed: number
  readonly removed: number
}

export interface Refused {
  readonly _tag: "Refused"
  readonly conflicts: ReadonlyArray<Conflict>
}

const validate = (c: ContactChange): InvalidChange | undefined => {
  if (!Number.isInteger(c.expires) || c.expires < 0 || c.expires > 0xffffffff)
    return new InvalidChange({ contact: c.contact, reason: `expires ${c.expires} not in 0..2^32-1` })
  if (c.q !== undefined && !(c.q >= 0 && c.q <= 1))
    return new InvalidChange({ contact: c.contact, reason: `q ${c.q} not in [0, 1]` })
  if (c.contact.length === 0) return new InvalidChange({ contact: c.contact, reason: "empty contact" })
  return undefined
}

const toStored = (c: ContactChange, callId: string, cseq: number, now: number): Stored => {
  const ext: StoredExt | undefined =
    (c.path !== undefined && c.path.length > 0) || c.instanceId !== undefined || c.regId !== undefined
      ? { path: c.path ?? [], instanceId: c.instanceId, regId: c.regId }
      : undefined
  return makeStored(
    c.contact,
    callId,
    cseq,
    c.q === undefined ? -1 : Math.round(c.q * 1000),
    now + c.expires * 1000,
    encodeReceived(c.received),
    ext,
  )
}

/** The identity of a change's contact, as `storedKey` gives it for the record it would become. */
const changeKey = (c: ContactChange): string =>
  c.instanceId !== undefined && c.regId !== undefined ? flowKey(c.instanceId, c.regId) : contactKey(c.contact)

/** The bindings still alive at `now`. */
export const live = (current: ReadonlyArray<Stored>, now: number): ReadonlyArray<Stored> => {
  for (const s of current) if (s.expiresAt <= now) return current.filter((b) => b.expiresAt > now)
  return current
}

/**
 * Applies `changes` to the bindings of one AOR at time `now` (expired ones are dropped first).
 * Either every change applies, or none does and the conflicts are returned (§10.3 step 7:
 * "committed if and only if all binding updates and additions succeed").
 */
export const apply = (
  current: ReadonlyArray<Stored>,
  changes: Changes,
  now: number,
): Applied | Refused | InvalidChange => {
  const alive = live(current, now)
  const expired = current.length - alive.length
  const { callId, cseq } = changes
  const conflicts: Array<Conflict> = []
  // §10.3 step 6/7: a binding with another Call-ID yields; with the same Call-ID only to a higher CSeq
  const yields = (s: Stored) => {
    if (callIdOf(s) !== callId || cseq > s.cseq) return true
    conflicts.push({ contact: contactOf(s), callId, storedCseq: s.cseq, requestCseq: cseq })
    return false
  }
  if (changes._tag === "Wildcard") {
    for (const s of alive) yields(s)
    return conflicts.length > 0
      ? { _tag: "Refused", conflicts }
      : { _tag: "Applied", next: [], added: 0, refreshed: 0, removed: alive.length + expired }
  }
  // slot i < alive.length: a stored binding; beyond: a contact new to the AOR
  const next: Array<Stored | undefined> = alive.slice()
  const keys: Array<string> = []
  for (let i = 0; i < alive.length; i++) keys.push(storedKey(alive[i]!))
  // a few bindings and contacts (the common REGISTER) are searched in place; many get a Map
  const index = alive.length + changes.contacts.length > 8 ? new Map(keys.map((k, i) => [k, i])) : undefined
  // a contact repeated in one request is compared with the stored binding once; the last one wins
  const compared: Array<boolean> = []
  for (const change of changes.contacts) {
    const invalid = validate(change)
    if (invalid !== undefined) return invalid
    const key = changeKey(change)
    let at = index === undefined ? keys.indexOf(key) : (index.get(key) ?? -1)
    if (at < 0) {
      at = next.length
      keys.push(key)
      index?.set(key, at)
      next.push(undefined)
    } else if (at < alive.length && compared[at] !== true) {
      compared[at] = true
      if (!yields(alive[at]!)) continue
    }
    // a removal needs no record
    next[at] = change.expires === 0 ? undefined : toStored(change, callId, cseq, now)
  }
  if (conflicts.length > 0) return { _tag: "Refused", conflicts }
  let added = 0
  let refreshed = 0
  let removed = expired
  for (let i = 0; i < next.length; i++) {
    if (i >= alive.length) added += next[i] === undefined ? 0 : 1
    else if (next[i] === undefined) removed++
    else if (next[i] !== alive[i]) refreshed++
  }
  return { _tag: "Applied", next: next.filter((s) => s !== undefined), added, refreshed, removed }
}
