/**
 * An informer that keeps running. client-node's informer relists by itself when a watch ends with 410 Gone, but on
 * any other error it emits `error` and stops for good, which would leave the operator blind without a sound. This
 * wrapper restarts it with exponential backoff, resets the backoff once it connects again, and reports every restart.
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from "@kubernetes/client-node";

export const DEFAULT_INFORMER = {
  restartBaseMs: 500,
  restartMaxMs: 30_000,
};

export interface InformerHooks<T> {
  onObject(object: T): void;
  onRestart?(error: unknown, delayMs: number): void;
}

export class RestartingInformer<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private failures = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    hooks: InformerHooks<T>,
    labelSelector?: string,
    private readonly options = DEFAULT_INFORMER,
  ) {
    this.informer = makeInformer<T>(kubeConfig, path, list, labelSelector);
    // `connect` fires before the list is even tried, so only an object arriving proves the informer works again.
    const forward = (object: T) => {
      this.failures = 0;
      hooks.onObject(object);
    };
    this.informer.on("add", forward);
    this.informer.on("update", forward);
    this.informer.on("delete", forward);
    this.informer.on("error", (err) => this.scheduleRestart(err));
    this.onRestart = hooks.onRestart;
  }

  private readonly onRestart: InformerHooks<T>["onRestart"];

  private scheduleRestart(err: unknown): void {
    if (this.stopped || this.timer) return;
    this.failures++;
    const delayMs = Math.min(this.options.restartMaxMs, this.options.restartBaseMs * 2 ** (this.failures - 1));
    this.onRestart?.(err, delayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.start();
    }, delayMs);
  }

  get cache(): ObjectCache<T> {
    return this.informer;
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.informer.start();
    } catch (err) {
      // Opening the watch can throw instead of emitting `error`; either way the informer is down and is retried.
      this.scheduleRestart(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.informer.stop().catch(() => undefined);
  }
}
