/**
 * `%SETTING%` binding expressions, resolved as the Functions host resolves a trigger's values (the timer's
 * schedule included: the timer extension's `TimerSchedule.Create` calls `nameResolver.ResolveWholeString` before
 * parsing the NCRONTAB expression). Confirmed in Azure/azure-functions-host
 * `src/Microsoft.Azure.WebJobs.Host/NameResolverExtensions.cs`: every `%name%` is replaced by the app setting's
 * value, once (not recursively), and a `%` without its closing `%` is an error. An app setting that is not
 * defined, or is empty (TwinGuard treats empty settings as unset), is an error too.
 */
import type { Env } from './environment';

export class BindingExpressionError extends Error {}

export function resolveBindingExpression(value: string, env: Env): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf('%', i);
    if (start < 0) return out + value.slice(i);
    const end = value.indexOf('%', start + 1);
    if (end < 0) throw new BindingExpressionError(`the '%' at position ${start} of a binding expression has no closing '%'`);
    const name = value.slice(start + 1, end);
    const resolved = env[name];
    if (resolved === undefined || resolved === '')
      throw new BindingExpressionError(`binding expression %${name}% refers to an app setting that is not defined`);
    out += value.slice(i, start) + resolved;
    i = end + 1;
  }
  return out;
}
