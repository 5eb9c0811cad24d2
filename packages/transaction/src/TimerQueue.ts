/**
 * Every timer of a layer, in one FIFO list per duration. SIP uses few durations (T1 and its
 * doublings, T2, T4, 64·T1, Timer C), and timers of one duration started in time order expire in
 * that order, so each list is sorted by construction: starting a timer is a push, the next
 * deadline is the earliest of the lists' heads, and nothing is ever sifted through a heap of
 * hundreds of thousands of entries (each step of which was a cache miss under load).
 *
 * The layer's single fiber sleeps on Effect's Clock until the earliest deadline, so TestClock
 * drives all timers. Cancelling is O(1): the entry becomes a tombstone, dropped when it reaches
 * the head of its list, or when tombstones outnumber live entries and the lists are compacted.
 */

export interface Timer<T> {
  readonly deadline: number
  /** start order: equal deadlines fire in the order they were started */
  readonly seq: number
  readonly name: string
  /** the event to deliver */
  readonly event: string
  /** undefined once fired or cancelled */
  owner: T | undefined
}

/** the timers of one duration, oldest first; `head` is the index of the first entry still held */
class List<T> {
  entries: Array<Timer<T>> = []
  head = 0

  /** the first live entry, tombstones at the head dropped on the way */
  first(): Timer<T> | undefined {
    const entries = this.entries
    while (this.head < entries.length) {
      const t = entries[this.head]!
      if (t.owner !== undefined) return t
      entries[this.head++] = undefined as unknown as Timer<T> // release it now, not at the next compaction
    }
    if (this.head > 0) {
      entries.length = 0
      this.head = 0
    }
    return undefined
  }

  shift(): void {
    this.entries[this.head++] = undefined as unknown as Timer<T>
    // the consumed prefix is dropped once it is half of the array
    if (this.head > 1024 && this.head * 2 > this.entries.length) this.compact()
  }

  compact(): void {
    const live: Array<Timer<T>> = []
    const entries = this.entries
    for (let i = this.head; i < entries.length; i++) {
      const t = entries[i]!
      if (t.owner !== undefined) live.push(t)
    }
    this.entries = live
    this.head = 0
  }

  get held(): number {
    return this.entries.length - this.head
  }
}

export class TimerQueue<T> {
  private readonly lists = new Map<number, List<T>>()
  /** the same lists as an array, scanned for the earliest head */
  private all: Array<List<T>> = []
  private seq = 0
  private held = 0
  /** live (not cancelled, not fired) timers */
  armed = 0

  /** starts a timer `ms` after `now` */
  schedule(now: number, ms: number, name: string, event: string, owner: T): Timer<T> {
    let list = this.lists.get(ms)
    if (list === undefined) {
      list = new List<T>()
      this.lists.set(ms, list)
      this.all.push(list)
    }
    const entries = list.entries
    // a clock stepping back must not put a deadline before one already queued in this list
    const last = entries.length > list.head ? entries[entries.length - 1]!.deadline : now + ms
    const timer: Timer<T> = { deadline: Math.max(now + ms, last), seq: this.seq++, name, event, owner }
    entries.push(timer)
    this.held++
    this.armed++
    return timer
  }

  cancel(timer: Timer<T>): void {
    if (timer.owner === undefined) return
    timer.owner = undefined
    this.armed--
    if (this.held > 1024 && this.held > 4 * this.armed) this.compact()
  }

  /** the list holding the timer `earliest` returned */
  private from: List<T> | undefined = undefined

  /** the earliest live timer (ties: the first started) */
  private earliest(): Timer<T> | undefined {
    let best: Timer<T> | undefined
    let from: List<T> | undefined
    let held = 0
    const all = this.all
    for (let i = 0; i < all.length; i++) {
      const list = all[i]!
      const t = list.first()
      held += list.held
      if (t === undefined) continue
      if (best === undefined || t.deadline < best.deadline || (t.deadline === best.deadline && t.seq < best.seq)) {
        best = t
        from = list
      }
    }
    this.held = held
    this.from = from
    return best
  }

  /** deadline of the earliest live timer */
  next(): number | undefined {
    return this.earliest()?.deadline
  }

  /** removes and returns the earliest live timer due at `now`, or undefined */
  takeDue(now: number): Timer<T> | undefined {
    const timer = this.earliest()
    if (timer === undefined || timer.deadline > now) return undefined
    this.from!.shift()
    this.held--
    this.armed--
    return timer
  }

  /** entries held, tombstones included */
  get size(): number {
    return this.held
  }

  private compact(): void {
    let held = 0
    for (const list of this.all) {
      list.compact()
      held += list.held
    }
    this.held = held
  }
}
