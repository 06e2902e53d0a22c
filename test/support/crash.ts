/**
 * Crash injection for the ports of a sink. A crash at I/O call k means: the function dies
 * right before call k ('before') or right after call k reached the service but before its
 * answer was used ('after'). From then on every call of that "process" fails, so the state
 * left in the real services is exactly what a dead Lambda would leave.
 */
export class SimulatedCrash extends Error {
  constructor(readonly at: string) {
    super(`simulated crash at ${at}`);
    this.name = 'SimulatedCrash';
  }
}

export type CrashMode = 'before' | 'after';

export class CrashSwitch {
  calls = 0;
  crashed = false;
  readonly log: string[] = [];

  constructor(
    readonly crashAt = Number.POSITIVE_INFINITY,
    readonly mode: CrashMode = 'before',
  ) {}

  async around<T>(name: string, call: () => Promise<T>): Promise<T> {
    if (this.crashed) throw new SimulatedCrash(`${name} (after the crash)`);
    const n = ++this.calls;
    this.log.push(name);
    if (n === this.crashAt && this.mode === 'before') {
      this.crashed = true;
      throw new SimulatedCrash(`before ${name} (#${n})`);
    }
    const result = await call();
    if (n === this.crashAt && this.mode === 'after') {
      this.crashed = true;
      throw new SimulatedCrash(`after ${name} (#${n})`);
    }
    return result;
  }
}

/** Wraps every method of a port so each call passes through the switch. */
export function crashing<T extends object>(target: T, label: string, sw: CrashSwitch): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        sw.around(`${label}.${String(prop)}`, () => Promise.resolve(value.apply(obj, args)));
    },
  });
}
