/**
 * Puts each invocation's code inside the trace the Functions host started for it, so the dependency calls the
 * worker makes (registry, Table storage, HTTP) appear under the host's request in Application Insights' end-to-end
 * transaction view instead of as unrelated operations. The host passes W3C `traceparent`/`tracestate` in
 * `InvocationContext.traceContext`; the binder (set only while Azure Monitor telemetry runs, so nothing of
 * OpenTelemetry loads without it) extracts them into the active context around the handler, as Microsoft's
 * @azure/functions-opentelemetry-instrumentation does in its preInvocation hook (src/instrumentation.ts, 0.2.0).
 * That package is not used: it pins @opentelemetry/instrumentation 0.52 next to the distro's 0.211 and also sets
 * WorkerOpenTelemetryEnabled, which only applies with host.json `telemetryMode: OpenTelemetry` (Flex Consumption).
 */
export interface InvocationTraceContext {
  traceParent?: string | null | undefined;
  traceState?: string | null | undefined;
}

export type TraceBinder = <H extends (...args: never[]) => unknown>(handler: H, traceParent: string, traceState: string | undefined) => H;

let binder: TraceBinder | undefined;

export function setInvocationTraceBinder(next: TraceBinder | undefined): void {
  binder = next;
}

/** The handler, bound to the host's trace when telemetry runs and the host sent one; else the handler itself. */
export function bindInvocationTrace<H extends (...args: never[]) => unknown>(handler: H, trace: InvocationTraceContext | undefined): H {
  const traceParent = trace?.traceParent;
  if (!binder || !traceParent) return handler;
  return binder(handler, traceParent, trace.traceState ?? undefined);
}
