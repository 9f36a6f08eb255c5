/** Waiting with a limit, and no timer left behind. */

/**
 * `p`, or — once `ms` have passed — what `late()` returns (or throws), whichever comes first.
 * An infinite `ms` waits for `p` alone.
 */
export function within<T, L = undefined>(p: Promise<T>, ms: number, late: () => L = () => undefined as L): Promise<T | L> {
  if (!Number.isFinite(ms)) return p;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (err) {
        reject(err);
      }
    }, Math.max(0, ms));
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
