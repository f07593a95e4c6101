/** How deeply a parsed JSON value nests, measured without recursion so no input can exhaust the stack. */

/**
 * True when `value` nests objects or arrays more than `maxDepth` levels deep (a scalar is depth 0, `{}` and `[]`
 * depth 1). JSON.parse itself copes with any depth, but JSON.stringify, structuredClone and recursive walks of the
 * result overflow the stack somewhere past a few thousand levels: an API body is checked once, here, before
 * anything else touches it. Iterative and early-exiting; visits each value at most once.
 */
export function jsonDepthExceeds(value: unknown, maxDepth: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) return true;
    const children = Array.isArray(item.value) ? (item.value as unknown[]) : Object.values(item.value);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
  }
  return false;
}
