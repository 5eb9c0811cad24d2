/**
 * Every timer of a layer, in one FIFO list per duration. SIP uses few durations (T1 and its
 * doublings, T2, T4, 64·T1, Timer C), and timers of one duration started in time order expire in
 * that order, so each list is sorted by construction: starting a timer is a push, the next
 * deadline is the earliest of the lists' heads, and nothing is ever sifted through a heap of
 * hundreds of thousands of entries (each step of which was a cache miss under load).
 *
 * A timer is not an object but a slot in its list's parallel arrays, named by a number (`Timer`).
 * Most SIP timers are cancelled within milliseconds (A, B, E, F, C) or outlive many minor GCs
 * (J, L, M: 32 s); an object per timer was promoted to the old generation either way, and a
 * cancelled one stayed queued for up to 181 s. A slot holds numbers and two interned strings;
 * cancelling clears its owner at once, and the slot goes when the list's head passes it.
 *
 * The layer's single fiber sleeps on Effect's Clock until the earliest deadline, so TestClock
 * drives all timers.
 */

/** a started timer: its list and its position in that list, as one number */
export type Timer = number

/** at most this many durations have lists at once (an empty list is reused for a new duration) */
const LISTS = 4096

/**
 * The timers of one duration, oldest first, in a ring of parallel arrays. A timer's position
 * only grows (`head` is the first still held, `tail` the next to fill); its index in the arrays is
 * the position modulo the ring's power-of-two size. The ring grows when full and shrinks when
 * mostly empty; pushing and passing the head never copy (a 1M-entry list of Timer J did, each
 * time an array outgrew its capacity or dropped its consumed half).
 */
class List<T> {
  readonly id: number
  ms: number
  mask = 0
  /** undefined once fired or cancelled */
  owners: Array<T | undefined> = []
  deadlines: Float64Array = new Float64Array(0)
  /** start order: equal deadlines fire in the order they were started */
  seqs: Float64Array = new Float64Array(0)
  names: Array<string> = []
  events: Array<string> = []
  head = 0
  tail = 0

  constructor(id: number, ms: number) {
    this.id = id
    this.ms = ms
    this.resize(16)
  }

  push(owner: T, deadline: number, seq: number, name: string, event: string): number {
    if (this.tail - this.head > this.mask) this.resize((this.mask + 1) * 2)
    const pos = this.tail++
    const i = pos & this.mask // `&` keeps the low bits of any integer position
    this.owners[i] = owner
    this.deadlines[i] = deadline
    this.seqs[i] = seq
    this.names[i] = name
    this.events[i] = event
    return pos
  }

  /** index of the first live slot, cancelled slots at the head dropped on the way; -1 if none */
  first(): number {
    const owners = this.owners
    const mask = this.mask
    let head = this.head
    while (head < this.tail && owners[head & mask] === undefined) head++
    this.head = head
    const held = this.tail - head
    if (held * 8 < mask && mask >= 1024) this.resize((mask + 1) / 2)
    return held > 0 ? head & this.mask : -1
  }

  /** the index of a held position, else -1 */
  indexOf(pos: number): number {
    return pos >= this.head && pos < this.tail ? pos & this.mask : -1
  }

  private resize(size: number): void {
    const owners = new Array<T | undefined>(size).fill(undefined)
    const deadlines = new Float64Array(size)
    const seqs = new Float64Array(size)
    const names = new Array<string>(size).fill("")
    const events = new Array<string>(size).fill("")
    const mask = size - 1
    for (let pos = this.head; pos < this.tail; pos++) {
      const from = pos & this.mask
      const to = pos & mask
      owners[to] = this.owners[from]
      deadlines[to] = this.deadlines[from]!
      seqs[to] = this.seqs[from]!
      names[to] = this.names[from]!
      events[to] = this.events[from]!
    }
    this.owners = owners
    this.deadlines = deadlines
    this.seqs = seqs
    this.names = names
    this.events = events
    this.mask = mask
  }

  get held(): number {
    return this.tail - this.head
  }
}

export class TimerQueue<T> {
  private readonly lists = new Map<number, List<T>>()
  /** the lists by id, scanned for the earliest head */
  private all: Array<List<T>> = []
  private seq = 0
  /** live (not cancelled, not fired) timers */
  armed = 0
  /** what `takeDue` returned last: its timer, name and event */
  fired: Timer = -1
  firedName = ""
  firedEvent = ""

  /** starts a timer `ms` after `now`; its deadline is `deadline(timer)` */
  schedule(now: number, ms: number, name: string, event: string, owner: T): Timer {
    const list = this.lists.get(ms) ?? this.listFor(ms)
    // a clock stepping back must not put a deadline before one already queued in this list
    const last = list.tail > list.head ? list.deadlines[(list.tail - 1) & list.mask]! : now + ms
    const pos = list.push(owner, Math.max(now + ms, last), this.seq++, name, event)
    this.armed++
    return pos * LISTS + list.id
  }

  private listFor(ms: number): List<T> {
    let list: List<T> | undefined
    if (this.all.length < LISTS) {
      list = new List<T>(this.all.length, ms)
      this.all.push(list)
    } else {
      // reuse an empty list: its positions go on growing, so no old `Timer` names a new slot
      list = this.all.find((l) => l.first() < 0)
      if (list === undefined) throw new RangeError(`more than ${LISTS} timer durations in use at once`)
      this.lists.delete(list.ms)
      list.ms = ms
    }
    this.lists.set(ms, list)
    return list
  }

  /** the list and index of a live timer's slot, else undefined (fired, cancelled or dropped) */
  private slot(timer: Timer): List<T> | undefined {
    if (timer < 0) return undefined
    const list = this.all[timer % LISTS]
    if (list === undefined) return undefined
    const index = list.indexOf(Math.floor(timer / LISTS))
    if (index < 0 || list.owners[index] === undefined) return undefined
    this.index = index
    return list
  }

  /** no-op when it already fired or was cancelled */
  cancel(timer: Timer): void {
    const list = this.slot(timer)
    if (list === undefined) return
    list.owners[this.index] = undefined
    this.armed--
  }

  /** the owner of a live timer, else undefined */
  owner(timer: Timer): T | undefined {
    const list = this.slot(timer)
    return list === undefined ? undefined : list.owners[this.index]
  }

  /** hands a live timer to another owner (e.g. a transaction to its slimmer self) */
  setOwner(timer: Timer, owner: T): void {
    const list = this.slot(timer)
    if (list !== undefined) list.owners[this.index] = owner
  }

  /** a live timer's name, else undefined */
  name(timer: Timer): string | undefined {
    const list = this.slot(timer)
    return list === undefined ? undefined : list.names[this.index]
  }

  /** a live timer's deadline, else undefined */
  deadline(timer: Timer): number | undefined {
    const list = this.slot(timer)
    return list === undefined ? undefined : list.deadlines[this.index]
  }

  /** the index of the slot `slot` found in its list */
  private index = 0
  /** the index of the timer `earliest` returned in its list */
  private fromIndex = 0

  /** the earliest live timer's list (ties: the first started); sets `fromIndex` */
  private earliest(): List<T> | undefined {
    let best: List<T> | undefined
    let bestIndex = 0
    const all = this.all
    for (let i = 0; i < all.length; i++) {
      const list = all[i]!
      const index = list.first()
      if (index < 0) continue
      if (best === undefined) {
        best = list
        bestIndex = index
        continue
      }
      const d = list.deadlines[index]!
      const bd = best.deadlines[bestIndex]!
      if (d < bd || (d === bd && list.seqs[index]! < best.seqs[bestIndex]!)) {
        best = list
        bestIndex = index
      }
    }
    this.fromIndex = bestIndex
    return best
  }

  /** deadline of the earliest live timer */
  next(): number | undefined {
    const list = this.earliest()
    return list === undefined ? undefined : list.deadlines[this.fromIndex]
  }

  /**
   * removes the earliest live timer due at `now` and returns its owner (its timer, name and
   * event in `fired`, `firedName`, `firedEvent`), or undefined when none is due
   */
  takeDue(now: number): T | undefined {
    const list = this.earliest()
    if (list === undefined) return undefined
    const index = this.fromIndex
    if (list.deadlines[index]! > now) return undefined
    const owner = list.owners[index]
    list.owners[index] = undefined
    this.armed--
    this.fired = list.head * LISTS + list.id // `earliest` left the head on this slot
    this.firedName = list.names[index]!
    this.firedEvent = list.events[index]!
    return owner
  }

  /** slots held, cancelled ones not yet passed by their list's head included */
  get size(): number {
    let held = 0
    for (const list of this.all) held += list.held
    return held
  }
}
