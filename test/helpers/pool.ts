/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, in order of start. Tests that check thousands of
 * keys one request after another spent most of their time waiting on round trips; a few in flight cut that to a
 * fraction without changing what is checked. `stop` ends the run early (checked before each item starts), for
 * checks that give up after enough problems.
 */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>, stop: () => boolean = () => false): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length && !stop()) await fn(items[next++]!);
    }),
  );
}
