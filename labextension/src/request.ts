/**
 * The extension's fetches: the server extension's JSON routes under `{base_url}coder/`, and the
 * probes that choose the way a login comes back (`probeServerRoute`, `probeListener`).
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * Call `{base_url}coder/{endpoint}` and return its JSON body.
 *
 * `ServerConnection.makeRequest` adds the Jupyter token and the XSRF header, which POSTs need
 * (and every request needs behind JupyterHub).
 *
 * @param endpoint - path below `coder/`, e.g. `api/status`.
 * @param init - fetch options (method, body).
 * @throws ServerConnection.NetworkError when the server cannot be reached,
 *   ServerConnection.ResponseError for a non-2xx answer (its `message` is the server's).
 */
export async function requestAPI<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'coder', endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const message =
      data !== null && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string'
        ? (data as { message: string }).message
        : undefined;
    throw new ServerConnection.ResponseError(response, message);
  }
  return data as T;
}

/** The body of `GET coder/api/status` (public fields only; never a secret). */
export interface IStatusReply {
  deployment: string | null;
  status: 'unconfigured' | 'logged_out' | 'waiting' | 'logged_in' | 'expired' | 'error';
  username: string | null;
  method: string | null;
  expires_at: number | null;
  error: string | null;
  oauth_available: boolean | null;
  /** How many deployments the user works with; the status bar names the host when > 1. */
  deployments_in_use?: number;
}

/** The body of `POST coder/api/login`. */
export interface ILoginReply {
  authorization_url: string;
  redirect_uri: string;
  expires_at: number;
}

/**
 * Does this Jupyter server have the coder_jupyter server extension (its callback route)?
 * `GET {base_url}coder/api/status` answers only when it is loaded (404 otherwise).
 */
export async function probeServerRoute(): Promise<boolean> {
  try {
    await requestAPI<IStatusReply>('api/status');
    return true;
  } catch {
    return false;
  }
}

/** The only address `probeListener` fetches: the kernel's loopback listener. */
const LISTENER_PROBE = /^http:\/\/127\.0\.0\.1:\d{1,5}\/probe$/;

/**
 * Can this browser reach the kernel's loopback listener (so browser and kernel share a machine)?
 * `http://127.0.0.1` is a potentially trustworthy origin, so an https page may fetch it. The
 * listener answers with CORS for this page's origin and a random word the kernel also sent us
 * (`expect`): another service on the same port does not count.
 */
export async function probeListener(url: string, expect: string, timeoutMs = 3000): Promise<boolean> {
  if (!LISTENER_PROBE.test(url) || expect.length === 0) {
    return false;
  }
  const controller = new AbortController();
  const timer = window.setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, {
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store',
      signal: controller.signal
    });
    if (!response.ok) {
      return false;
    }
    const data: unknown = await response.json();
    return data !== null && typeof data === 'object' && (data as { coder_jupyter?: unknown }).coder_jupyter === expect;
  } catch {
    return false;
  } finally {
    window.clearTimeout(timer);
  }
}
