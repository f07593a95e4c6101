// The dashboard's one way to the data: the app's JSON API, relative to this page (…/api/dashboard/ → …/api/), with
// the function key from session storage in the x-functions-key header. The key never goes into a URL or a log.

const KEY_NAME = 'twinguard.functionKey';

export function getKey() {
  return sessionStorage.getItem(KEY_NAME);
}

export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_NAME);
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ? `${status}: ${body.message}` : `the API answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

export class NoKeyError extends Error {
  constructor() {
    super('enter the function key to see data');
  }
}

function apiUrl(path, query = {}) {
  const url = new URL(`../${path}`, document.baseURI);
  for (const [name, value] of Object.entries(query))
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  return url;
}

async function call(path, { method = 'GET', query, body } = {}) {
  const key = getKey();
  if (!key) throw new NoKeyError();
  const headers = { 'x-functions-key': key, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(apiUrl(path, query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
}

/** JSON of a 2xx answer; an ApiError otherwise (404 included: pages decide what it means). */
export async function api(path, options) {
  const response = await call(path, options);
  const text = await response.text();
  const body = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** Downloads a CSV through fetch (the key travels in the header) and hands the bytes to the browser as a file. */
export async function downloadCsv(path, query, fileName) {
  const response = await call(path, { query: { ...query, format: 'csv' } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => undefined));
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
