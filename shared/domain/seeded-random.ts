/**
 * A deterministic pseudo-random generator (mulberry32): tiny, fast, and the same sequence for the same seed on
 * every platform, so sampled sweep plans, seeded emulator fleets and randomised tests can be reproduced. Not for
 * anything that must be unpredictable (keys, tokens): use node:crypto there.
 */

/** Returns a generator of numbers in [0, 1); the seed is taken as an unsigned 32-bit integer. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
