/**
 * Preloaded (`node --require`) into the stand-in processes the tests and benchmarks start: the child exits when its
 * stdin pipe closes, which happens when the parent ends for any reason (SIGKILL included), so no Azurite outlives
 * the run that started it.
 */
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
