/**
 * A local process's clean stop: on SIGINT or SIGTERM, `stop` once (Ctrl-C reaches every process of
 * the group, and npm and tsx relay it too: one stop is enough), then exit 0; `fail` when the stop
 * fails or takes longer than 15 s (the stops bound their own children; this guards against
 * anything else hanging).
 */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => Promise<void>, fail: (message: string) => never): void {
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => fail('stop took longer than 15 s; exiting anyway'), 15_000).unref();
    stop(signal).then(
      () => process.exit(0),
      (e: unknown) => fail(`stop failed: ${(e as Error).message}`),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
