/**
 * The FIFO queue of a byte-stream connection: one call or stream session
 * holds it at a time. A waiter gives up under its own signal/deadline without
 * touching the connection, and its error names the holder.
 */
import type { TransportError } from "../errors.js";
import type { GiveUp } from "./call-options.js";

/** Hands the connection to the next waiter. Idempotent. */
export type Release = () => void;

interface Waiter {
  label: string;
  grant(): void;
}

export class ConnectionQueue {
  /** What holds the connection, e.g. `open stream 'produce_n'` (null: free). */
  private holder: string | null = null;
  private readonly waiters: Waiter[] = [];

  /** Wait for the connection as `label` (e.g. `call 'echo'`). */
  acquire(label: string, giveUp: GiveUp): Promise<Release> {
    if (this.holder === null) {
      this.holder = label;
      return Promise.resolve(this.releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        label,
        grant: () => {
          off();
          resolve(this.releaser());
        },
      };
      this.waiters.push(waiter);
      const off = giveUp.onGiveUp(() => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        reject(this.queuedError(giveUp));
      });
    });
  }

  private queuedError(giveUp: GiveUp): TransportError {
    const waited = Date.now() - giveUp.startedAt;
    return giveUp.error(`: waited ${waited} ms for the connection held by ${this.holder ?? "another call"}; the connection is untouched`);
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      this.holder = next?.label ?? null;
      next?.grant();
    };
  }
}
