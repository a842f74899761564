/**
 * A run's side of the fleet: one Redis connection per `pollpray run`, and per target a
 * turn that the cycle asks "may I deploy this commit now?" before the code is touched
 * (canary gate, then a slot lease) and that reports the outcome afterwards (canary
 * verdict, slot release, fleet record). Redis trouble before the code is touched holds
 * the deploy (on_unavailable: wait); once a deploy started it always runs to its end.
 */
import { randomBytes } from 'node:crypto';
import type { Config, CoordinationSettings, Target } from '../config/normalise.js';
import type { TargetOutcome } from '../deploy/cycle.js';
import { CoordinationError, errorMessage } from '../errors.js';
import { log } from '../log/logger.js';
import { readState } from '../state/store.js';
import { gate, pollIntervalMs, slotOrder } from './gate.js';
import { FleetStore } from './store.js';

export type GateResult =
  | { go: true }
  /** `error` is set when a human should hear about it (printed as one line). */
  | { go: false; detail: string; error?: CoordinationError };

/** What the cycle sees: one question before the code is touched. */
export interface FleetGate {
  begin(sha: string, deployedSha: string | null, force: boolean): Promise<GateResult>;
}

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : 'none');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Fleet {
  private store: Promise<FleetStore> | undefined;

  constructor(
    private readonly settings: CoordinationSettings,
    readonly hostId: string,
  ) {}

  static of(config: Config): Fleet | undefined {
    return config.coordination && new Fleet(config.coordination, config.hostId);
  }

  /** Connects once per run; a failed connect is remembered, so targets do not each wait for it. */
  connect(): Promise<FleetStore> {
    this.store ??= FleetStore.connect(this.settings);
    return this.store;
  }

  turn(config: Config, target: Target): FleetTurn {
    return new FleetTurn(this, this.settings, config, target);
  }

  async close(): Promise<void> {
    const store = await this.store?.catch(() => undefined);
    await store?.close();
  }
}

export class FleetTurn implements FleetGate {
  private slot: { index: number; token: string } | undefined;
  private renewal: NodeJS.Timeout | undefined;
  private attempted: string | undefined;
  private held: { commit: string; reason: string } | undefined;

  constructor(
    private readonly fleet: Fleet,
    private readonly settings: CoordinationSettings,
    private readonly config: Config,
    private readonly target: Target,
  ) {}

  private get fields() {
    return { target: this.target.name, step: 'fleet' };
  }

  async begin(sha: string, deployedSha: string | null, force: boolean): Promise<GateResult> {
    const s = this.settings;
    const deadline = Date.now() + s.waitMs;
    let store: FleetStore;
    try {
      store = await this.fleet.connect();
      if (s.canary) await store.registerHost(this.target.name, this.record(deployedSha, 'deploying', { commit: sha, reason: 'canary deploying' }));
      for (;;) {
        const decision = gate({
          sha,
          canary: s.canary,
          groupHasCanary: s.canary || s.requireCanary || (await store.hasCanary(this.target.name)),
          verdict: await store.verdict(this.target.name, sha),
          force,
        });
        let detail: string;
        if (decision.action === 'hold') {
          // A commit marked bad stays bad: waiting cannot change that.
          if (decision.reason === 'bad-commit') return this.hold(sha, decision.detail, new CoordinationError(decision.detail, { target: this.target.name }));
          detail = decision.detail;
        } else {
          const slot = await this.takeSlot(store);
          if (slot) {
            this.attempted = sha;
            log.info(`took deploy slot ${slot.index + 1}/${s.maxInFlight} of group ${s.group} (${decision.why})`, this.fields);
            return { go: true };
          }
          const holders = (await store.slotHolders(this.target.name, s.maxInFlight)).map((t) => t?.split(':')[0] ?? 'free');
          detail = `all ${s.maxInFlight} deploy slot${s.maxInFlight === 1 ? '' : 's'} of group ${s.group} are taken (by ${holders.join(', ')})`;
        }
        if (Date.now() >= deadline) return this.hold(sha, `${detail}; keeping ${short(deployedSha)}, next run tries again`);
        await sleep(Math.min(pollIntervalMs(s.leaseMs), Math.max(0, deadline - Date.now())));
      }
    } catch (err) {
      await this.releaseSlot();
      return this.unavailable(sha, deployedSha, err);
    }
  }

  private hold(sha: string, detail: string, error?: CoordinationError): GateResult {
    this.held = { commit: sha, reason: detail };
    log.info(`holding: ${detail}`, this.fields);
    return { go: false, detail, ...(error ? { error } : {}) };
  }

  private unavailable(sha: string, deployedSha: string | null, err: unknown): GateResult {
    const message = errorMessage(err);
    if (this.settings.onUnavailable === 'deploy') {
      log.warn(`${message}: deploying ${short(sha)} uncoordinated (on_unavailable: deploy)`, this.fields);
      this.attempted = undefined;
      return { go: true };
    }
    const cause = err instanceof CoordinationError ? err : undefined;
    const detail = `${cause?.message ?? message}: keeping ${short(deployedSha)} deployed, not deploying ${short(sha)} uncoordinated (on_unavailable: wait)`;
    this.held = { commit: sha, reason: detail };
    log.warn(detail, this.fields);
    return {
      go: false,
      detail,
      error: new CoordinationError(detail, { target: this.target.name, hint: cause?.hint ?? 'check the Redis server', cause: err }),
    };
  }

  /** SET NX PX on each slot in this host's order; the first one taken is renewed until end(). */
  private async takeSlot(store: FleetStore): Promise<{ index: number; token: string } | undefined> {
    const token = `${this.fleet.hostId}:${process.pid}:${randomBytes(8).toString('hex')}`;
    for (const index of slotOrder(this.fleet.hostId, this.settings.maxInFlight)) {
      if (await store.takeSlot(this.target.name, index, token, this.settings.leaseMs)) {
        this.slot = { index, token };
        this.startRenewal(store);
        return this.slot;
      }
    }
    return undefined;
  }

  private startRenewal(store: FleetStore): void {
    let warned = false;
    this.renewal = setInterval(() => {
      const slot = this.slot;
      if (!slot) return;
      store.renewSlot(this.target.name, slot.index, slot.token, this.settings.leaseMs).then(
        (kept) => {
          if (!kept && !warned) {
            warned = true;
            log.warn(`deploy slot ${slot.index + 1} lease expired while deploying; finishing this deploy anyway`, this.fields);
          }
        },
        (err: unknown) => {
          if (!warned) {
            warned = true;
            log.warn(`cannot renew the deploy slot lease (${errorMessage(err)}); finishing this deploy anyway`, this.fields);
          }
        },
      );
    }, Math.max(100, Math.floor(this.settings.leaseMs / 3)));
    this.renewal.unref();
  }

  private async releaseSlot(): Promise<void> {
    clearInterval(this.renewal);
    this.renewal = undefined;
    const slot = this.slot;
    this.slot = undefined;
    if (!slot) return;
    try {
      const store = await this.fleet.connect();
      await store.releaseSlot(this.target.name, slot.index, slot.token);
    } catch (err) {
      log.warn(`could not release deploy slot ${slot.index + 1} (${errorMessage(err)}): it frees itself when its lease expires`, this.fields);
    }
  }

  /** After the cycle, whatever happened: free the slot, give the canary verdict, write this host's record. Never throws. */
  async end(outcome: TargetOutcome | undefined): Promise<void> {
    await this.releaseSlot();
    let store: FleetStore;
    try {
      store = await this.fleet.connect();
    } catch {
      return; // already reported by begin(), or nothing needed Redis this run
    }
    const name = this.target.name;
    try {
      if (this.settings.canary && this.attempted && outcome?.sha === this.attempted) {
        const time = new Date().toISOString();
        if (outcome.result === 'deployed') {
          await store.setVerdict(name, this.attempted, { verdict: 'healthy', host: this.fleet.hostId, time });
          log.info(`canary verdict: ${short(this.attempted)} healthy`, this.fields);
        } else if (outcome.result === 'failed') {
          const reason = outcome.error?.message ?? outcome.detail ?? 'failed';
          await store.setVerdict(name, this.attempted, { verdict: 'bad', host: this.fleet.hostId, time, reason });
          log.warn(`canary verdict: ${short(this.attempted)} bad; the group will not deploy it`, this.fields);
        }
      }
      const { state } = readState(this.config.stateDir, name, this.target.branch, { readOnly: true });
      const pending = outcome?.result === 'skipped' ? this.held ?? null : null;
      await store.registerHost(name, this.record(state.deployedSha, outcome?.result ?? 'error', pending, outcome?.error?.oneLine() ?? null));
    } catch (err) {
      log.warn(`could not write this host's fleet record (${errorMessage(err)})`, this.fields);
    }
  }

  private record(commit: string | null, result: string, pending: { commit: string; reason: string } | null, error: string | null = null) {
    return { host: this.fleet.hostId, target: this.target.name, canary: this.settings.canary, commit, result, time: new Date().toISOString(), error, pending };
  }
}
