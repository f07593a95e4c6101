/** Property-path access for the IoT Hub query language: the getters WHERE comparisons and SELECT fields use. */

/** Reads one value out of a twin document; undefined when the path is missing. */
export type ValueGetter = (twin: Record<string, unknown>) => unknown;

/** Builds a getter that walks `segments` through nested plain objects; missing → undefined. */
export function compilePath(segments: readonly string[]): ValueGetter {
  const [a, b, c, d] = segments;
  const step = (value: unknown, key: string): unknown =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key)
      ? (value as Record<string, unknown>)[key]
      : undefined;
  // Unrolled for the common depths: this runs per twin on fleet-wide scans.
  switch (segments.length) {
    case 1:
      return (twin) => step(twin, a as string);
    case 2:
      return (twin) => step(step(twin, a as string), b as string);
    case 3:
      return (twin) => step(step(step(twin, a as string), b as string), c as string);
    case 4:
      return (twin) => step(step(step(step(twin, a as string), b as string), c as string), d as string);
    default:
      return (twin) => {
        let value: unknown = twin;
        for (const segment of segments) {
          value = step(value, segment);
          if (value === undefined) return undefined;
        }
        return value;
      };
  }
}
