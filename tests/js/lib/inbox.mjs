// An ordered record of the events a socket received, with bounded, event-driven waits.

export class Inbox {
  /**
   * @param socket a socket.io-client Socket
   * @param events event names to record
   */
  constructor(socket, events) {
    this.socket = socket;
    this.items = []; // { event, args }
    this.waiters = new Set();
    for (const event of events) {
      socket.on(event, (...args) => this.push(event, args));
    }
  }

  push(event, args) {
    const item = { event, args };
    this.items.push(item);
    for (const w of [...this.waiters]) {
      if (w.predicate(item)) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(this.items.length - 1);
      }
    }
  }

  /** Resolves with the index of the first item (already received or future) matching `predicate`. */
  waitFor(predicate, ms = 5000, what = "a matching event") {
    const idx = this.items.findIndex(predicate);
    if (idx >= 0) return Promise.resolve(idx);
    return new Promise((resolve, reject) => {
      const w = { predicate, resolve };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; received: ${JSON.stringify(this.items)}`));
      }, ms);
      this.waiters.add(w);
    });
  }

  /** Items received whose first argument equals `tag`. */
  withTag(tag) {
    return this.items.filter((i) => i.args[0] === tag);
  }
}
